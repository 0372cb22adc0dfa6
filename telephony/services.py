"""Every call operation: `(actor, validated input) → OperationResult`, audited.

One path for all of them, used unchanged by the API, the console and Celery tasks:
1. the tenant comes from the actor (never from input);
2. the call / user / queue / parking slot is looked up in the actor's tenant through
   telephony.selectors, which answers 404 for what the actor may not see;
3. the right is a predicate of accounts/rules.py, asked as `actor.has_perm(name, target_user)`;
4. destinations pass one grammar (`resolve_destination`) before anything is built;
5. telephony.actions builds the AMI action from those validated values only;
6. telephony.tasks.send_action routes it to the worker holding the PBX link and returns the
   PBX's real answer (for Originate, the OriginateResponse), turned into an error on failure;
7. every attempt writes one AuditEntry: ok, denied, invalid or failed.

Nothing is sent to the PBX before steps 1–5 have passed: a denied attempt costs no AMI frame.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ParamSpec, TypeVar

from django.conf import settings

from accounts.scoping import tenant_scope_for
from telephony import actions, errors, selectors
from telephony.models import AccountKind, AuditEntry, AuditResult
from telephony.numbers import DESTINATION_RE

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

IVR_RE = re.compile(r"[0-9]{2,10}", re.ASCII)
SLOT_RE = re.compile(r"[0-9]{2,10}", re.ASCII)
EXTERNAL_RE = re.compile(r"\+[0-9]{3,20}|[0-9]{7,20}", re.ASCII)
REASON_MAX = 40


@dataclass
class OperationResult:
    ok: bool
    operation: str
    message: str
    target: str = ""
    destination: str = ""
    pbx: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Attempt:
    """What one attempt acts on, filled in as it is resolved; written to the audit log."""

    actor: Any
    operation: str
    target: str = ""
    destination: str = ""


def _printable(value: Any, limit: int = 200) -> str:
    """Hostile input goes into the audit log escaped and bounded, never raw."""
    text = value if isinstance(value, str) else repr(value)
    if not text.isprintable() or not text.isascii():
        text = text.encode("unicode_escape").decode("ascii")
    return text[:limit]


def _audit(attempt: Attempt, result: str, message: str) -> None:
    actor = attempt.actor
    tenant_id = getattr(actor, "tenant_id", None)
    if tenant_id is None:
        log.warning("operation %s by tenant-less actor %s: %s", attempt.operation, actor, result)
        return
    with tenant_scope_for(tenant_id):
        AuditEntry.objects.create(
            tenant_id=tenant_id,
            actor=actor if getattr(actor, "pk", None) else None,
            actor_name=str(getattr(actor, "username", ""))[:150],
            operation=attempt.operation,
            target=_printable(attempt.target),
            destination=_printable(attempt.destination),
            result=result,
            message=str(message)[:2000],
        )


def audited(operation: str) -> Callable[[Callable[..., OperationResult]], Callable[..., OperationResult]]:
    """Run a service and write one audit row, whatever happens."""

    def decorate(fn: Callable[..., OperationResult]) -> Callable[..., OperationResult]:
        @functools.wraps(fn)
        def run(*, actor: Any, **kwargs: Any) -> OperationResult:
            attempt = Attempt(actor=actor, operation=operation)
            try:
                result = fn(attempt, **kwargs)
            except errors.OperationError as exc:
                _audit(attempt, exc.audit_result, exc.message)
                raise
            except actions.UnsafeValue as exc:
                # The last gate caught what validation upstream let through: a bug or an attack.
                _audit(attempt, AuditResult.INVALID, f"refused at the AMI gate: {exc}")
                raise errors.InvalidInput("That value cannot be sent to the PBX.") from exc
            except Exception as exc:
                # Not an expected refusal: still one audit row, then the error goes up as is.
                _audit(attempt, AuditResult.FAILED, f"internal error: {type(exc).__name__}")
                raise
            _audit(attempt, AuditResult.OK, result.message)
            return result

        run.operation = operation  # type: ignore[attr-defined]
        return run

    return decorate


# --- Sending -------------------------------------------------------------------------------------


def _send(
    route: selectors.PbxRoute, action: actions.AmiAction, *, timeout: float | None = None
) -> dict[str, Any]:
    """Send through the link holder; PBX refusals become errors with a human message."""
    from telephony import tasks
    from telephony.ami import errors as ami_errors

    timeout = float(timeout if timeout is not None else settings.AMI_ACTION_TIMEOUT)
    try:
        result = tasks.send_action(route.pbx_id, action.name, [list(h) for h in action.headers], timeout)
    except ami_errors.PbxNotConnected as exc:
        raise errors.PbxNotConnected(detail=str(exc)[:200]) from exc
    except ami_errors.PbxTimeout as exc:
        raise errors.PbxTimeout(detail=str(exc)[:200]) from exc
    response = result.get("response") or {}
    if not result.get("ok"):
        raise errors.pbx_refusal(str(result.get("message") or response.get("Message") or ""))
    summary: dict[str, Any] = {
        "response": response.get("Response", "Success"),
        "message": response.get("Message", ""),
    }
    if action.name == "Originate":
        outcome = _originate_response(result.get("events") or [])
        if outcome is not None:
            if outcome.get("Response") != "Success":
                raise errors.pbx_refusal("Originate failed", reason=outcome.get("Reason", ""))
            summary["channel"] = outcome.get("Channel", "")
            summary["uniqueid"] = outcome.get("Uniqueid", "")
    return summary


def _originate_response(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    for event in events:
        if event.get("Event") == "OriginateResponse":
            return event
    return None


def _message(summary: dict[str, Any], fallback: str) -> str:
    return str(summary.get("message") or fallback)


# --- Destinations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    kind: str  # extension | voicemail | external | dialplan
    exten: str  # what the dialplan is asked to dial, in the tenant's context
    user: Any = None  # the user it reaches, when it is an account


def resolve_destination(*, actor: Any, raw: Any) -> Destination:
    """The one grammar for destinations: a known account, or digits with `+ * #`, bounded.

    - an extension of the tenant → that extension;
    - `*` + an extension, or a voicemail account → that voicemail box, without ringing (trace 14);
    - an alternative number of a user → dialled outside, and that user is the one reached;
    - `+` and 3–20 digits, or 7–20 digits → an external number, behind the outbound prefix;
    - other short digit strings and `*`/`#` codes → the tenant's dialplan as they are.
    """
    if not isinstance(raw, str) or not DESTINATION_RE.fullmatch(raw):
        raise errors.InvalidDestination(destination=_printable(raw, 60))
    tenant_id = actor.tenant_id
    prefix = str(settings.SWITCHBOARD_OUTBOUND_PREFIX)
    voicemail = raw[1:] if raw.startswith("*") else None
    account = selectors.account_lookup(tenant_id=tenant_id, number=voicemail or raw)
    if account is not None:
        if voicemail is not None or account.kind == AccountKind.VOICEMAIL:
            return Destination("voicemail", f"*{account.number}", account.user)
        if account.kind == AccountKind.ALTERNATIVE:
            return Destination("external", prefix + account.number, account.user)
        return Destination("extension", account.number, account.user)
    if EXTERNAL_RE.fullmatch(raw):
        return Destination("external", prefix + raw)
    return Destination("dialplan", raw)


def _check_reach(actor: Any, dest: Destination) -> None:
    if dest.user is not None and not actor.has_perm("telephony.call_to", dest.user):
        raise errors.PermissionDenied("You may not call that person.")


# --- Parties of a call -----------------------------------------------------------------------


def _acting_party(actor: Any, call: selectors.Call, perm: str, extension: str | None) -> selectors.Party:
    """The leg the operation acts on: the named extension's, else the actor's, else the first
    user's leg the actor holds the right for. The right is checked on that leg's user."""
    users = [p for p in call.parties if p.user is not None and p.state != "down"]
    if extension:
        party = next((p for p in users if p.endpoint == extension), None)
        if party is None:
            raise errors.NotFound("That extension is not on this call.", extension=_printable(extension, 20))
    else:
        party = call.party_of(actor) or next((p for p in users if actor.has_perm(perm, p.user)), None)
        party = party or (users[0] if users else None)
        if party is None:
            raise errors.NotPossible("No phone of your company is on this call.")
    if not actor.has_perm(perm, party.user):
        raise errors.PermissionDenied()
    return party


def _far(call: selectors.Call, near: selectors.Party) -> selectors.Party:
    far = call.far_party(near)
    if far is None:
        raise errors.NotPossible("The call has no other party to act on.")
    return far


def _own_extension(actor: Any) -> str:
    _user, extension = selectors.user_get(actor=actor, ref=None)
    return extension


# --- Operations ----------------------------------------------------------------------------------


@audited("call_originate")
def call_originate(attempt: Attempt, *, from_: str | None = None, to: str) -> OperationResult:
    """Click-to-call: ring the `from` account first, then dial `to` (traces 11 and 23)."""
    actor = attempt.actor
    attempt.destination = to if isinstance(to, str) else repr(to)
    attempt.target = from_ or ""
    dest = resolve_destination(actor=actor, raw=to)
    if from_ is None:
        account = selectors.default_account(user=actor)
        if account is None:
            raise errors.InvalidInput("You have no default account to call from; say which one.")
    else:
        if not isinstance(from_, str) or not DESTINATION_RE.fullmatch(from_):
            raise errors.NoSuchAccount(account=_printable(from_, 40))
        account = selectors.account_lookup(tenant_id=actor.tenant_id, number=from_)
        if account is None or account.kind == AccountKind.VOICEMAIL:
            raise errors.NoSuchAccount(account=_printable(from_, 40))
        if not (
            actor.has_perm("accounts.view_presence", account.user)
            or actor.has_perm("telephony.originate_from", account.user)
        ):
            raise errors.NoSuchAccount(account=_printable(from_, 40))
    attempt.target = account.number
    if not actor.has_perm("telephony.originate_from", account.user):
        raise errors.PermissionDenied("You may not call from that account.")
    _check_reach(actor, dest)
    route = selectors.pbx_route(actor=actor)
    common = {
        "to_context": route.context,
        "to_exten": dest.exten,
        "caller_name": "Console call",
        # What the `from` phone shows while it rings first: the number it is about to call.
        "caller_number": dest.exten.replace("+", ""),
        "variables": {"SWITCHBOARD_ORIGIN": "console"},
    }
    if account.kind == AccountKind.ALTERNATIVE:
        prefix = str(settings.SWITCHBOARD_OUTBOUND_PREFIX)
        action = actions.originate_local(
            via_context=route.context, via_exten=prefix + account.number, **common
        )
    else:
        action = actions.originate_exten(from_endpoint=route.endpoint(account.number), **common)
    summary = _send(route, action, timeout=settings.SWITCHBOARD_ORIGINATE_TIMEOUT)
    return OperationResult(True, "call_originate", "Calling.", account.number, dest.exten, summary)


@audited("call_hangup")
def call_hangup(attempt: Attempt, *, call_id: str, extension: str | None = None) -> OperationResult:
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.hangup", extension)
    summary = _send(selectors.pbx_route(actor=actor), actions.hangup(target=party.channel))
    return OperationResult(True, "call_hangup", "Hung up.", call_id, party.endpoint, summary)


@audited("call_ignore")
def call_ignore(attempt: Attempt, *, call_id: str, extension: str | None = None) -> OperationResult:
    """Stop a ringing phone; the caller goes on in the dialplan, e.g. to voicemail (trace 15)."""
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.hangup", extension)
    if party.state != "ringing":
        raise errors.NotPossible("Only a ringing call can be ignored.")
    action = actions.hangup(target=party.channel, cause=actions.CAUSE_BUSY)
    summary = _send(selectors.pbx_route(actor=actor), action)
    return OperationResult(
        True, "call_ignore", "Ignored; the caller goes on.", call_id, party.endpoint, summary
    )


@audited("call_transfer_blind")
def call_transfer_blind(
    attempt: Attempt, *, call_id: str, to: str, extension: str | None = None
) -> OperationResult:
    """Redirect the far party to the destination (traces 08 and 14): the user's leg drops."""
    actor = attempt.actor
    attempt.target, attempt.destination = call_id, to if isinstance(to, str) else repr(to)
    dest = resolve_destination(actor=actor, raw=to)
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.transfer", extension)
    _check_reach(actor, dest)
    far = _far(call, party)
    route = selectors.pbx_route(actor=actor)
    summary = _send(
        route, actions.redirect(target=far.channel, to_context=route.context, to_exten=dest.exten)
    )
    return OperationResult(True, "call_transfer_blind", "Transferred.", call_id, dest.exten, summary)


@audited("call_transfer_attended_start")
def call_transfer_attended_start(
    attempt: Attempt, *, call_id: str, to: str, extension: str | None = None
) -> OperationResult:
    """Atxfer (trace 10): the far party waits while the user's phone consults the target."""
    actor = attempt.actor
    attempt.target, attempt.destination = call_id, to if isinstance(to, str) else repr(to)
    dest = resolve_destination(actor=actor, raw=to)
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.transfer", extension)
    _check_reach(actor, dest)
    if not call.answered:
        raise errors.NotPossible("Only an answered call can be transferred with consultation.")
    route = selectors.pbx_route(actor=actor)
    action = actions.atxfer(transferer=party.channel, to_context=route.context, to_exten=dest.exten)
    summary = _send(route, action)
    return OperationResult(True, "call_transfer_attended_start", "Consulting.", call_id, dest.exten, summary)


def _consulting(call: selectors.Call) -> bool:
    # During an Atxfer consultation the call carries the Local channel pair (trace 10).
    return any(p.kind == "local" or p.channel.startswith("Local/") for p in call.parties)


@audited("call_transfer_attended_complete")
def call_transfer_attended_complete(
    attempt: Attempt, *, call_id: str, extension: str | None = None
) -> OperationResult:
    """Complete = the transferer leaves: Asterisk bridges the waiting party with the target."""
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.transfer", extension)
    if not _consulting(call):
        raise errors.NotPossible("No attended transfer is in progress on this call.")
    summary = _send(selectors.pbx_route(actor=actor), actions.hangup(target=party.channel))
    return OperationResult(
        True, "call_transfer_attended_complete", "Transferred.", call_id, party.endpoint, summary
    )


@audited("call_transfer_attended_cancel")
def call_transfer_attended_cancel(
    attempt: Attempt, *, call_id: str, extension: str | None = None
) -> OperationResult:
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.transfer", extension)
    summary = _send(selectors.pbx_route(actor=actor), actions.cancel_atxfer(transferer=party.channel))
    return OperationResult(
        True, "call_transfer_attended_cancel", "Back to the caller.", call_id, party.endpoint, summary
    )


@audited("call_hold")
def call_hold(attempt: Attempt, *, call_id: str, extension: str | None = None) -> OperationResult:
    """AMI has no 'hold this call': the far party waits in the hold lot, parked for this user
    (DESIGN.md); the parking timeout rings the user's phone back."""
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.hold", extension)
    far = _far(call, party)
    lot = str(settings.SWITCHBOARD_HOLD_LOT)
    action = actions.park(target=far.channel, timeout_channel=party.channel, lot=lot)
    summary = _send(selectors.pbx_route(actor=actor), action)
    return OperationResult(True, "call_hold", "On hold.", call_id, party.endpoint, summary)


def _slot_of_call(actor: Any, call_id: str) -> tuple[str, dict[str, Any]]:
    view = selectors.live_view(tenant_id=actor.tenant_id)
    for slot, entry in view["parking"].items():
        if str(entry.get("call")) == str(call_id):
            return slot, selectors.parked_get(actor=actor, slot=slot)
    raise errors.NoSuchCall("That call is not on hold.", call_id=_printable(call_id, 80))


@audited("call_unhold")
def call_unhold(attempt: Attempt, *, call_id: str, extension: str | None = None) -> OperationResult:
    """Ring the holder's phone and connect it to the slot (the unpark path of trace 07).

    Only the holder takes a held call back (`telephony.hold` is "self" only): the right is
    checked on the parker of the slot, and it is the parker's phone that rings.
    """
    actor = attempt.actor
    attempt.target = call_id
    slot, entry = _slot_of_call(actor, call_id)
    holder = str(entry.get("parker") or "")
    if not holder or (extension and extension != holder):
        raise errors.NotPossible("That call was not put on hold from this phone.")
    user, ext = selectors.user_get(actor=actor, ref=holder)
    if not actor.has_perm("telephony.hold", user):
        raise errors.PermissionDenied()
    route = selectors.pbx_route(actor=actor)
    summary = _send(
        route, actions.unpark(to_endpoint=route.endpoint(ext), lot_context=route.context, slot=slot)
    )
    return OperationResult(
        True, "call_unhold", "Your phone rings to take the call back.", call_id, slot, summary
    )


@audited("call_park")
def call_park(attempt: Attempt, *, call_id: str, extension: str | None = None) -> OperationResult:
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.park", extension)
    far = _far(call, party)
    lot = str(settings.SWITCHBOARD_PARKING_LOT)
    summary = _send(
        selectors.pbx_route(actor=actor),
        actions.park(target=far.channel, timeout_channel=party.channel, lot=lot),
    )
    return OperationResult(True, "call_park", "Parked.", call_id, party.endpoint, summary)


@audited("call_unpark")
def call_unpark(attempt: Attempt, *, slot: str, to: str | None = None) -> OperationResult:
    """Ring `to` (a user's extension; me when omitted) and connect it to the parked call."""
    actor = attempt.actor
    attempt.target = slot if isinstance(slot, str) else repr(slot)
    attempt.destination = to or ""
    if not isinstance(slot, str) or not SLOT_RE.fullmatch(slot):
        raise errors.NoSuchParkedCall(slot=_printable(slot, 20))
    selectors.parked_get(actor=actor, slot=slot)
    user, ext = selectors.user_get(actor=actor, ref=to)
    attempt.destination = ext
    if not actor.has_perm("telephony.park", user):
        raise errors.PermissionDenied()
    route = selectors.pbx_route(actor=actor)
    summary = _send(
        route, actions.unpark(to_endpoint=route.endpoint(ext), lot_context=route.context, slot=slot)
    )
    return OperationResult(True, "call_unpark", "Ringing to take the parked call.", slot, ext, summary)


@audited("call_pickup")
def call_pickup(attempt: Attempt, *, call_id: str, extension: str | None = None) -> OperationResult:
    """PickupChan via Originate (trace 17): my phone rings, then takes the ringing call."""
    actor = attempt.actor
    attempt.target = call_id
    call = selectors.call_get(actor=actor, call_id=call_id)
    ringing = [p for p in call.parties if p.user is not None and p.state == "ringing"]
    if extension:
        ringing = [p for p in ringing if p.endpoint == extension]
    if not ringing:
        raise errors.NotPossible("No phone is ringing on this call.")
    party = next((p for p in ringing if actor.has_perm("telephony.pickup", p.user)), None)
    if party is None:
        raise errors.PermissionDenied()
    mine = _own_extension(actor)
    route = selectors.pbx_route(actor=actor)
    action = actions.pickup(
        picker_endpoint=route.endpoint(mine),
        ringing_endpoint=route.endpoint(party.endpoint),
        caller_number=mine,
    )
    summary = _send(route, action, timeout=settings.SWITCHBOARD_ORIGINATE_TIMEOUT)
    return OperationResult(True, "call_pickup", "Picked up.", call_id, party.endpoint, summary)


@audited("call_intercom")
def call_intercom(attempt: Attempt, *, to: str) -> OperationResult:
    """My phone rings first; then the callee's phone answers by itself (intercom context)."""
    actor = attempt.actor
    attempt.destination = to if isinstance(to, str) else repr(to)
    user, ext = selectors.user_get(actor=actor, ref=to)
    if not actor.has_perm("telephony.intercom", user):
        raise errors.PermissionDenied()
    mine = _own_extension(actor)
    attempt.target = mine
    route = selectors.pbx_route(actor=actor)
    action = actions.originate_exten(
        from_endpoint=route.endpoint(mine),
        to_context=str(settings.SWITCHBOARD_INTERCOM_CONTEXT),
        to_exten=ext,
        caller_name="Intercom",
        caller_number=ext,
        variables={"SWITCHBOARD_ORIGIN": "intercom"},
    )
    summary = _send(route, action, timeout=settings.SWITCHBOARD_ORIGINATE_TIMEOUT)
    return OperationResult(True, "call_intercom", "Intercom open.", mine, ext, summary)


@audited("call_send_to_ivr")
def call_send_to_ivr(
    attempt: Attempt, *, call_id: str, ivr: str | None = None, extension: str | None = None
) -> OperationResult:
    """Redirect the caller into an IVR's entry extension (trace 22)."""
    actor = attempt.actor
    ivr = ivr or str(settings.SWITCHBOARD_IVR_EXTEN)
    attempt.target, attempt.destination = call_id, ivr if isinstance(ivr, str) else repr(ivr)
    if not isinstance(ivr, str) or not IVR_RE.fullmatch(ivr):
        raise errors.InvalidDestination("An IVR is named by its number, e.g. 7000.")
    call = selectors.call_get(actor=actor, call_id=call_id)
    party = _acting_party(actor, call, "telephony.control_ivr", extension)
    far = _far(call, party)
    route = selectors.pbx_route(actor=actor)
    summary = _send(route, actions.redirect(target=far.channel, to_context=route.context, to_exten=ivr))
    return OperationResult(True, "call_send_to_ivr", "Sent to the IVR.", call_id, ivr, summary)


@audited("call_spy")
def call_spy(attempt: Attempt, *, call_id: str, mode: str, extension: str | None = None) -> OperationResult:
    """Listen, whisper or barge: ChanSpy via Originate from my phone (trace 12)."""
    actor = attempt.actor
    attempt.target, attempt.destination = call_id, mode if isinstance(mode, str) else repr(mode)
    if mode not in actions.SPY_OPTIONS:
        raise errors.InvalidInput("mode is listen, whisper or barge.")
    call = selectors.call_get(actor=actor, call_id=call_id)
    candidates = [p for p in call.parties if p.user is not None and p.state == "up" and p.kind == "extension"]
    if extension:
        candidates = [p for p in candidates if p.endpoint == extension]
    if not candidates:
        raise errors.NotPossible("Nobody on this call can be listened to.")
    party = next((p for p in candidates if actor.has_perm("telephony.spy", p.user)), None)
    if party is None:
        raise errors.PermissionDenied()
    mine = _own_extension(actor)
    route = selectors.pbx_route(actor=actor)
    action = actions.spy(
        spy_endpoint=route.endpoint(mine), target_channel=party.channel, mode=mode, caller_number=mine
    )  # type: ignore[arg-type]
    summary = _send(route, action, timeout=settings.SWITCHBOARD_ORIGINATE_TIMEOUT)
    return OperationResult(
        True, "call_spy", f"{mode.capitalize()} started.", call_id, party.endpoint, summary
    )


def _queue_member(attempt: Attempt, queue: str, extension: str | None) -> tuple[Any, str, selectors.PbxRoute]:
    actor = attempt.actor
    attempt.target = queue if isinstance(queue, str) else repr(queue)
    if not isinstance(queue, str) or not actions.QUEUE_RE.fullmatch(queue):
        raise errors.NoSuchQueue(queue=_printable(queue, 80))
    selectors.queue_get(actor=actor, name=queue)
    user, ext = selectors.user_get(actor=actor, ref=extension)
    attempt.destination = ext
    if not actor.has_perm("telephony.queue_member", user):
        raise errors.PermissionDenied()
    return user, ext, selectors.pbx_route(actor=actor)


@audited("queue_pause")
def queue_pause(
    attempt: Attempt, *, queue: str, extension: str | None = None, reason: str = ""
) -> OperationResult:
    if not isinstance(reason, str) or len(reason) > REASON_MAX or not actions.TEXT_RE.fullmatch(reason):
        raise errors.InvalidInput("A pause reason is up to 40 letters, digits, spaces, . _ -")
    _user, ext, route = _queue_member(attempt, queue, extension)
    action = actions.queue_pause(queue=queue, member_endpoint=route.endpoint(ext), paused=True, reason=reason)
    summary = _send(route, action)
    return OperationResult(True, "queue_pause", _message(summary, "Paused."), queue, ext, summary)


@audited("queue_unpause")
def queue_unpause(attempt: Attempt, *, queue: str, extension: str | None = None) -> OperationResult:
    _user, ext, route = _queue_member(attempt, queue, extension)
    summary = _send(
        route, actions.queue_pause(queue=queue, member_endpoint=route.endpoint(ext), paused=False)
    )
    return OperationResult(True, "queue_unpause", _message(summary, "Unpaused."), queue, ext, summary)


@audited("queue_login")
def queue_login(attempt: Attempt, *, queue: str, extension: str | None = None) -> OperationResult:
    user, ext, route = _queue_member(attempt, queue, extension)
    name = actions.clean_text(str(user), fallback=f"User {ext}")
    action = actions.queue_add(queue=queue, member_endpoint=route.endpoint(ext), member_name=name)
    summary = _send(route, action)
    return OperationResult(True, "queue_login", _message(summary, "Logged in."), queue, ext, summary)


@audited("queue_logout")
def queue_logout(attempt: Attempt, *, queue: str, extension: str | None = None) -> OperationResult:
    _user, ext, route = _queue_member(attempt, queue, extension)
    summary = _send(route, actions.queue_remove(queue=queue, member_endpoint=route.endpoint(ext)))
    return OperationResult(True, "queue_logout", _message(summary, "Logged out."), queue, ext, summary)


@audited("dnd_set")
def dnd_set(attempt: Attempt, *, on: bool, extension: str | None = None) -> OperationResult:
    """DND as the custom device state in the phone's hint (trace 16): BUSY / NOT_INUSE."""
    actor = attempt.actor
    attempt.destination = "on" if on else "off"
    user, ext = selectors.user_get(actor=actor, ref=extension)
    attempt.target = ext
    if not actor.has_perm("telephony.dnd", user):
        raise errors.PermissionDenied()
    route = selectors.pbx_route(actor=actor)
    summary = _send(route, actions.dnd(endpoint_name=route.endpoint(ext), on=bool(on)))
    return OperationResult(
        True,
        "dnd_set",
        "Do not disturb on." if on else "Do not disturb off.",
        ext,
        attempt.destination,
        summary,
    )


OPERATIONS: dict[str, Callable[..., OperationResult]] = {
    fn.operation: fn  # type: ignore[attr-defined]
    for fn in (
        call_originate,
        call_hangup,
        call_ignore,
        call_transfer_blind,
        call_transfer_attended_start,
        call_transfer_attended_complete,
        call_transfer_attended_cancel,
        call_hold,
        call_unhold,
        call_park,
        call_unpark,
        call_pickup,
        call_intercom,
        call_send_to_ivr,
        call_spy,
        queue_pause,
        queue_unpause,
        queue_login,
        queue_logout,
        dnd_set,
    )
}
