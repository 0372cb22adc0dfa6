"""Reads for call operations: what of its tenant's live state an actor may see and act on.

The tenant always comes from the actor, never from input. Every lookup answers "no such …"
(404) both for what does not exist and for what the actor may not see (another tenant's call,
a call of another department without the Calls right): the two must look the same.

The live view is the one the link holder publishes (telephony.livestate); its endpoints are
keyed by the tenant's extension (without a shared PBX's endpoint prefix), parties carry the
real channel names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from accounts.models import User
from accounts.scoping import tenant_scope_for
from telephony import errors, livestate
from telephony.models import Account, AccountKind, CallRecord, PbxTenant

MASKED = "on a call"


@dataclass(frozen=True)
class PbxRoute:
    """Where a tenant's actions go: the PBX, the tenant's dialplan context, its endpoint prefix."""

    pbx_id: str
    context: str
    prefix: str

    def endpoint(self, extension: str) -> str:
        return f"{self.prefix}{extension}"


@dataclass
class Party:
    channel: str
    endpoint: str
    kind: str
    state: str
    number: str
    user: User | None = None


@dataclass
class Call:
    id: str
    data: dict[str, Any]
    parties: list[Party] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.data.get("answered"))

    def party_of(self, user: User) -> Party | None:
        for party in self.parties:
            if party.user is not None and party.user.pk == user.pk:
                return party
        return None

    def far_party(self, near: Party) -> Party | None:
        """The other side of `near`: the first live party that is not near and not a spy."""
        for party in self.parties:
            if party.channel != near.channel and party.kind != "spy" and party.state != "down":
                return party
        return None


def _tenant_id(actor: Any) -> Any:
    tenant_id = getattr(actor, "tenant_id", None)
    if tenant_id is None or not getattr(actor, "is_active", False):
        raise errors.PermissionDenied("Only an active member of a tenant can do that.")
    return tenant_id


def pbx_route(*, actor: Any) -> PbxRoute:
    link = PbxTenant.objects.filter(tenant_id=_tenant_id(actor)).select_related("pbx").first()
    if link is None or not link.pbx.enabled:
        raise errors.PbxNotConnected("Your company has no PBX connected.")
    default_context = settings.SWITCHBOARD_DEFAULT_CONTEXT
    return PbxRoute(
        pbx_id=str(link.pbx_id), context=link.context or default_context, prefix=link.endpoint_prefix
    )


def extension_directory(*, tenant_id: Any) -> dict[str, Account]:
    """Extension number → its Account (with user) for one tenant."""
    with tenant_scope_for(tenant_id):
        accounts = (
            Account.objects.for_tenant(tenant_id).filter(kind=AccountKind.EXTENSION).select_related("user")
        )
        return {a.number: a for a in accounts}


def live_view(*, tenant_id: Any) -> dict[str, Any]:
    view = livestate.tenant_view(tenant_id)
    if view is None:
        return {"version": 0, "endpoints": {}, "calls": {}, "parking": {}, "queues": {}}
    return view


def _call(data: dict[str, Any], directory: dict[str, Account]) -> Call:
    call = Call(id=str(data.get("id", "")), data=data)
    for p in data.get("parties", []):
        account = directory.get(str(p.get("endpoint") or ""))
        call.parties.append(
            Party(
                channel=str(p.get("channel", "")),
                endpoint=str(p.get("endpoint") or ""),
                kind=str(p.get("kind", "other")),
                state=str(p.get("state", "")),
                number=str(p.get("number") or ""),
                user=account.user if account is not None and p.get("kind") == "extension" else None,
            )
        )
    return call


def _visible(actor: Any, call: Call) -> bool:
    return any(p.user is not None and actor.has_perm("accounts.view_calls", p.user) for p in call.parties)


def call_get(*, actor: Any, call_id: str) -> Call:
    """A live call of the actor's tenant that the actor may see, else NoSuchCall."""
    tenant_id = _tenant_id(actor)
    data = live_view(tenant_id=tenant_id)["calls"].get(str(call_id))
    if data is None:
        raise errors.NoSuchCall(call_id=str(call_id)[:80])
    call = _call(data, extension_directory(tenant_id=tenant_id))
    if not _visible(actor, call):
        raise errors.NoSuchCall(call_id=str(call_id)[:80])
    return call


def user_get(*, actor: Any, ref: str | None) -> tuple[User, str]:
    """A user of the actor's tenant named by extension or id, and their extension.

    None means the actor. Users the actor may not see (presence) do not exist for them.
    """
    tenant_id = _tenant_id(actor)
    directory = extension_directory(tenant_id=tenant_id)
    if ref is None or ref == "":
        return actor, _extension_of(actor, directory)
    ref = str(ref)
    if ref in directory:
        user = directory[ref].user
        if not actor.has_perm("accounts.view_presence", user) and not actor.has_perm(
            "telephony.call_to", user
        ):
            raise errors.NoSuchUser(user=ref[:80])
        return user, ref
    try:
        user_id = uuid.UUID(ref)
    except ValueError:
        raise errors.NoSuchUser(user=ref[:80]) from None
    user = User.objects.for_tenant(tenant_id).filter(pk=user_id, is_active=True).first()
    if user is None or not (
        actor.has_perm("accounts.view_presence", user) or actor.has_perm("telephony.call_to", user)
    ):
        raise errors.NoSuchUser(user=ref[:80])
    return user, _extension_of(user, directory)


def _extension_of(user: Any, directory: dict[str, Account]) -> str:
    mine = [a for a in directory.values() if a.user_id == user.pk]
    if not mine:
        raise errors.InvalidInput("That user has no extension.", user=str(user.pk))
    mine.sort(key=lambda a: (not a.is_default, a.number))
    return mine[0].number


def account_lookup(*, tenant_id: Any, number: str) -> Account | None:
    with tenant_scope_for(tenant_id):
        return (
            Account.objects.for_tenant(tenant_id)
            .filter(number=number)
            .select_related("user")
            .order_by("kind")
            .first()
        )


def default_account(*, user: Any) -> Account | None:
    with tenant_scope_for(user.tenant_id):
        return (
            Account.objects.for_tenant(user.tenant_id)
            .filter(user=user)
            .order_by("-is_default", "kind", "number")
            .first()
        )


def queue_get(*, actor: Any, name: str) -> dict[str, Any]:
    queue = live_view(tenant_id=_tenant_id(actor))["queues"].get(str(name))
    if queue is None:
        raise errors.NoSuchQueue(queue=str(name)[:80])
    return queue


def parked_get(*, actor: Any, slot: str) -> dict[str, Any]:
    """A parking slot holding a call the actor may see (by the call or by the parker)."""
    tenant_id = _tenant_id(actor)
    view = live_view(tenant_id=tenant_id)
    entry = view["parking"].get(str(slot))
    if entry is None:
        raise errors.NoSuchParkedCall(slot=str(slot)[:20])
    directory = extension_directory(tenant_id=tenant_id)
    if not _parking_visible(actor, entry, view, directory):
        raise errors.NoSuchParkedCall(slot=str(slot)[:20])
    return entry


def _parking_visible(
    actor: Any, entry: dict[str, Any], view: dict[str, Any], directory: dict[str, Account]
) -> bool:
    parker = directory.get(str(entry.get("parker") or ""))
    if parker is not None and actor.has_perm("accounts.view_calls", parker.user):
        return True
    data = view["calls"].get(str(entry.get("call") or ""))
    return data is not None and _visible(actor, _call(data, directory))


# --- The live state an actor may see (API `GET /state`) --------------------------------------


def state_for(*, actor: Any) -> dict[str, Any]:
    """The tenant's live view cut down to what the actor may see.

    Presence (colour) needs `view_presence`; calls need `view_calls` on one of their users; the
    outside number of a call needs `view_call_party` ("Show My Calls") on one of them.
    """
    tenant_id = _tenant_id(actor)
    view = live_view(tenant_id=tenant_id)
    directory = extension_directory(tenant_id=tenant_id)
    users = []
    for number, account in sorted(directory.items()):
        if not actor.has_perm("accounts.view_presence", account.user):
            continue
        endpoint = view["endpoints"].get(number, {})
        users.append(
            {
                "id": str(account.user.pk),
                "name": str(account.user),
                "extension": number,
                "colour": endpoint.get("colour", "light-grey"),
                "registered": bool(endpoint.get("registered", False)),
                "dnd": bool(endpoint.get("dnd", False)),
            }
        )
    calls = []
    for data in view["calls"].values():
        call = _call(data, directory)
        seers = [
            p.user
            for p in call.parties
            if p.user is not None and actor.has_perm("accounts.view_calls", p.user)
        ]
        if not seers:
            continue
        reveal = any(actor.has_perm("accounts.view_call_party", u) for u in seers)
        calls.append(_call_out(actor, call, reveal))
    parking = [
        {"slot": slot, "call": entry.get("call"), "parker": entry.get("parker"), "since": entry.get("since")}
        for slot, entry in sorted(view["parking"].items())
        if _parking_visible(actor, entry, view, directory)
    ]
    queues = []
    for name, queue in sorted(view["queues"].items()):
        members = {
            ext: m
            for ext, m in queue.get("members", {}).items()
            if ext in directory and actor.has_perm("accounts.view_presence", directory[ext].user)
        }
        see_callers = any(
            ext in directory and actor.has_perm("accounts.view_calls", directory[ext].user)
            for ext in queue.get("members", {})
        )
        queues.append(
            {
                "name": name,
                "waiting": len(queue.get("waiting", [])),
                "callers": [
                    {"call": w.get("call"), "caller": w.get("caller"), "since": w.get("since")}
                    for w in queue.get("waiting", [])
                ]
                if see_callers
                else [],
                "members": [
                    {
                        "extension": ext,
                        "paused": bool(m.get("paused")),
                        "reason": m.get("reason", ""),
                        "status": m.get("status", ""),
                    }
                    for ext, m in sorted(members.items())
                ],
            }
        )
    return {
        "version": view.get("version", 0),
        "users": users,
        "calls": calls,
        "parking": parking,
        "queues": queues,
    }


def _call_out(actor: Any, call: Call, reveal: bool) -> dict[str, Any]:
    parties = []
    for p in call.parties:
        if p.user is not None:
            shown = actor.has_perm("accounts.view_presence", p.user)
            parties.append(
                {
                    "kind": p.kind,
                    "state": p.state,
                    "extension": p.endpoint if shown else None,
                    "user": str(p.user.pk) if shown else None,
                    "number": p.number if shown else MASKED,
                }
            )
        else:
            parties.append(
                {
                    "kind": p.kind,
                    "state": p.state,
                    "extension": None,
                    "user": None,
                    "number": p.number if reveal else MASKED,
                }
            )
    data = call.data
    return {
        "id": call.id,
        "direction": data.get("direction"),
        "queue": data.get("queue"),
        "answered": bool(data.get("answered")),
        "held": bool(data.get("held")),
        "parked_at": data.get("parked_at"),
        "started": data.get("started"),
        "answered_at": data.get("answered_at"),
        "parties": parties,
    }


def call_history(*, actor: Any, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Finished calls of the actor's tenant in which a user the actor may see took part."""
    tenant_id = _tenant_id(actor)
    out: list[dict[str, Any]] = []
    with tenant_scope_for(tenant_id):
        records = CallRecord.objects.for_tenant(tenant_id).prefetch_related("users").order_by("-started_at")
        skipped = 0
        for record in records.iterator(chunk_size=200):
            users = list(record.users.all())
            seers = [u for u in users if actor.has_perm("accounts.view_calls", u)]
            if not seers:
                continue
            if skipped < offset:
                skipped += 1
                continue
            reveal = any(actor.has_perm("accounts.view_call_party", u) for u in seers)
            out.append(
                {
                    "id": str(record.pk),
                    "direction": record.direction,
                    "disposition": record.disposition,
                    "caller": record.caller if reveal else MASKED,
                    "callee": record.callee if reveal else MASKED,
                    "queue": record.queue,
                    "started_at": record.started_at.isoformat(),
                    "answered_at": record.answered_at.isoformat() if record.answered_at else None,
                    "ended_at": record.ended_at.isoformat(),
                    "duration_seconds": record.duration_seconds,
                    "users": [str(u.pk) for u in seers],
                }
            )
            if len(out) >= limit:
                break
    return out
