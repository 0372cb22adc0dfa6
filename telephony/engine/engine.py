"""Engine: AMI frames in, PBX state and per-tenant deltas out. Pure: no I/O, no Django.

    engine = Engine(TenantMap(endpoints={"1001": acme.id, ...}))
    deltas = engine.feed(frame)          # one frame from telephony.ami.framing
    engine.begin_resync(); engine.feed(row) ...; deltas = engine.end_resync()

Deltas are computed by comparison, not by guessing: each handler notes which calls,
endpoints, parking slots and queues it touched; after the frame the engine renders only
those, per tenant, and compares with what it last published. So an event that changes
nothing visible (a duplicate, a DialState repeating a known state) yields no delta, and a
resync or Shutdown yields exactly the differences.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from . import handlers as h
from . import views
from .model import Call, Channel, Delta, State
from .resync import carry_over, rebuild_dials
from .tenancy import TenantMap


class Engine:
    # The events the engine reads: telephony.ami.framing skips every other event undecoded.
    WANTED_EVENTS: frozenset[str] = frozenset(h.HANDLERS)

    def __init__(self, tenants: TenantMap | None = None, clock: Callable[[], float] = time.time) -> None:
        self.tenants = tenants or TenantMap()
        self.clock = clock
        self.s = State()
        self.version = 0
        self.online = False  # False after Shutdown until the next resync
        self.bad_frames = 0
        self.originates: dict[str, dict[str, Any]] = {}  # ActionID -> note (spy mode, target)
        self._spy_notes: list[dict[str, Any]] = []  # notes waiting for their ChanSpyStart
        self.dirty_calls: set[str] = set()
        self.dirty_endpoints: set[str] = set()
        self.dirty_parking: set[str] = set()
        self.dirty_queues: set[str] = set()
        self._ended: list[tuple[dict[str, Any], set[Any]]] = []
        self._published: dict[tuple[str, Any, str], Any] = {}
        self._owners: dict[tuple[str, str], set[Any]] = {}
        self._resync: tuple[State, frozenset[str] | None] | None = None
        self._buffer: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ input

    def feed(self, frame: dict[str, Any]) -> list[Delta]:
        """Apply one frame; return the deltas it caused (none for Responses or noise)."""
        event = frame.get("Event")
        handler = h.HANDLERS.get(event) if event.__class__ is str else None
        if handler is None:
            return []
        if self._resync is not None:
            if self._is_snapshot_row(frame, event):
                self._apply(handler, frame)
            else:
                self._buffer.append(frame)
            return []
        self._apply(handler, frame)
        return self._flush()

    def feed_many(self, frames: Iterable[dict[str, Any]]) -> list[Delta]:
        out: list[Delta] = []
        for frame in frames:
            out.extend(self.feed(frame))
        return out

    def _apply(self, handler: Callable[[Engine, dict[str, Any]], None], frame: dict[str, Any]) -> None:
        try:
            handler(self, frame)
        except (TypeError, ValueError, AttributeError, KeyError):
            # A malformed frame (a header repeated where one was expected, a missing field)
            # must not take the PBX link down: count it and go on with the next one.
            self.bad_frames += 1

    def _is_snapshot_row(self, frame: dict[str, Any], event: str) -> bool:
        action_id = frame.get("ActionID")
        if not action_id or event not in h.SNAPSHOT_ROWS or self._resync is None:
            return False
        ids = self._resync[1]
        return ids is None or action_id in ids

    # ------------------------------------------------------------------ resync

    def begin_resync(self, action_ids: Collection[str] | None = None) -> None:
        """Start building a fresh state from snapshot rows.

        Rows are frames of SNAPSHOT_ROWS carrying an ActionID (one of `action_ids` when given);
        every other event is buffered and applied after the snapshot, in arrival order.
        """
        if self._resync is not None:
            # A resync interrupted by another: drop the half-built state, keep the last good one.
            self.s = self._resync[0]
        self._resync = (self.s, frozenset(action_ids) if action_ids is not None else None)
        self.s = State()
        self._buffer = []

    def end_resync(self) -> list[Delta]:
        if self._resync is None:
            return []
        old, _ids = self._resync
        self._resync = None
        new = self.s
        carry_over(old, new)
        rebuild_dials(new)
        buffered, self._buffer = self._buffer, []
        for frame in buffered:
            handler = h.HANDLERS.get(frame.get("Event"))  # type: ignore[arg-type]
            if handler is not None:
                self._apply(handler, frame)
        self.online = True
        now = self.clock()
        for linkedid, call in old.calls.items():
            if linkedid not in self.s.calls:
                self._end_from(old, call, now)
        self._mark_all(old)
        return self._flush()

    def shutdown(self) -> None:
        """Shutdown event: the PBX is going away; nothing of it is known until a resync."""
        old = self.s
        self.s = State()
        self.online = False
        now = self.clock()
        for call in list(old.calls.values()):
            self._end_from(old, call, now)
        self._mark_all(old)

    def _mark_all(self, old: State) -> None:
        self.dirty_calls.update(old.calls, self.s.calls)
        self.dirty_calls.update(linkedid for _kind, linkedid in self._owners if _kind == "call")
        self.dirty_endpoints.update(old.endpoints, self.s.endpoints, self.tenants.endpoints)
        self.dirty_parking.update(old.parking, self.s.parking)
        self.dirty_queues.update(old.queues, self.s.queues)

    # ------------------------------------------------------------------ notes from the operations layer

    def note_originate(
        self, action_id: str, *, spy_mode: str | None = None, target: str | None = None, channel: str = ""
    ) -> None:
        """The product sent an Originate: remember what the events will not say.

        ChanSpy's mode (listen / whisper / barge) lives only in the options the product chose;
        it is matched to the spyer's channel by ActionID (OriginateResponse) or, should
        ChanSpyStart come first, by the spyer's endpoint (`channel`, e.g. "PJSIP/1005").
        """
        note = {"spy_mode": spy_mode, "target": target, "channel": channel}
        self.originates[action_id] = note
        if spy_mode is not None:
            self._spy_notes.append(note)
            del self._spy_notes[:-32]  # bounded: notes whose spy never started fall off

    def take_spy_note(self, spyer: Channel) -> str | None:
        for i, note in enumerate(self._spy_notes):
            _tech, endpoint = h.split_channel_name(note.get("channel") or "")
            if endpoint and endpoint == spyer.endpoint:
                del self._spy_notes[i]
                return note["spy_mode"]
        return None

    def note_redirect(self, channel: str, to: str, *, by: str | None = None) -> list[Delta]:
        """The product sent Redirect (AMI has no event for it): a transfer in the history."""
        uid = self.s.names.get(channel)
        c = self.s.channels.get(uid or "")
        if c is None:
            return []
        if by is None:
            peers = views.far_parties(self.s, c)
            by = next((h.identity(p) for p in peers), "")
        h._record_transfer(self, c.linkedid, by=by, to=to, kind="redirect")
        return self._flush() if self._resync is None else []

    def note_action(self, action: dict[str, Any]) -> list[Delta]:
        """Any action the product sent (replay feeds the `.actions` file through here)."""
        name = action.get("Action")
        if name == "Originate" and action.get("Application") in h.SPY_APPS:
            self.note_originate(
                str(action.get("ActionID") or ""),
                spy_mode=h.spy_mode_from_options(str(action.get("Data") or "")),
                target=str(action.get("Data") or "").partition(",")[0],
                channel=str(action.get("Channel") or ""),
            )
        elif name == "Redirect" and action.get("Channel"):
            return self.note_redirect(str(action["Channel"]), str(action.get("Exten") or ""))
        return []

    # ------------------------------------------------------------------ tenancy

    def channel_tenant(self, c: Channel, call: Call | None = None) -> Any:
        if c.tenant is not None:
            return c.tenant
        if call is None:
            call = self.s.calls.get(c.linkedid)
        if call is not None:
            channels = self.s.channels
            for uid in call.channels:
                other = channels.get(uid)
                if other is not None and other.tenant is not None:
                    return other.tenant
        return self.tenants.default_tenant

    def _call_tenants(self, s: State, call: Call) -> set[Any]:
        owners: set[Any] = set()
        channels = s.channels
        fallback = None
        for uid in call.channels:
            c = channels.get(uid)
            if c is not None and c.tenant is not None:
                owners.add(c.tenant)
        for party in call.parties.values():
            if party.tenant is not None:
                owners.add(party.tenant)
        if not owners:
            fallback = self.tenants.default_tenant
            if fallback is not None:
                owners.add(fallback)
        return owners

    def slot_tenant(self, slot: Any) -> Any:
        tenant = self.tenants.lot_tenant(slot.lot) if slot.lot else self.tenants.default_tenant
        if tenant is not None:
            return tenant
        c = self.s.channels.get(slot.uniqueid)
        return self.channel_tenant(c) if c is not None else None

    # ------------------------------------------------------------------ calls ending

    def end_call(self, call: Call) -> None:
        self._end_from(self.s, call, self.clock())
        self.s.calls.pop(call.linkedid, None)

    def _end_from(self, s: State, call: Call, now: float) -> None:
        for uid in list(call.channels):
            c = s.channels.get(uid)
            party = call.parties.get(uid)
            if c is not None and party is not None:
                party.tenant = self.channel_tenant(c, call) if s is self.s else (c.tenant or party.tenant)
                party.number = views.identity_number(c)
                party.kind = views.party_kind(c)
        owners = self._call_tenants(s, call)
        self._ended.append((views.summary(s, call, now), owners))
        self.dirty_calls.add(call.linkedid)

    # ------------------------------------------------------------------ deltas

    def _flush(self) -> list[Delta]:
        if not (
            self.dirty_calls or self.dirty_endpoints or self.dirty_parking or self.dirty_queues or self._ended
        ):
            return []  # the common case for noise: nothing touched, nothing to render
        deltas: list[Delta] = []
        s = self.s
        published = self._published
        dirty_eps = self.dirty_endpoints
        if self.dirty_calls:
            for linkedid in self.dirty_calls:
                call = s.calls.get(linkedid)
                key = ("call", linkedid)
                before = self._owners.get(key, set())
                owners: set[Any] = set()
                if call is not None:
                    for uid in call.channels:
                        c = s.channels.get(uid)
                        if c is None:
                            continue
                        if c.endpoint is not None:
                            dirty_eps.add(c.endpoint)
                        tenant = self.channel_tenant(c, call)
                        if tenant is not None:
                            owners.add(tenant)
                    for tenant in owners:
                        view = views.call_view(self, call, tenant)
                        pkey = ("call", tenant, linkedid)
                        if published.get(pkey) != view:
                            published[pkey] = view
                            deltas.append(Delta(tenant, "call", linkedid))
                for tenant in before - owners:
                    published.pop(("call", tenant, linkedid), None)
                    deltas.append(Delta(tenant, "call", linkedid))
                if owners:
                    self._owners[key] = owners
                else:
                    self._owners.pop(key, None)
            self.dirty_calls = set()
        if self._ended:
            for summary, owners in self._ended:
                for tenant in owners:
                    deltas.append(Delta(tenant, "call_ended", summary["linkedid"], summary))
            self._ended = []
        if dirty_eps:
            endpoint_tenant = self.tenants.endpoint_tenant
            for name in dirty_eps:
                tenant = endpoint_tenant(name)
                if tenant is None:
                    continue
                view = views.endpoint_view(s, name)
                pkey = ("endpoint", tenant, name)
                if published.get(pkey) != view:
                    published[pkey] = view
                    deltas.append(Delta(tenant, "endpoint", name))
            self.dirty_endpoints = set()
        if self.dirty_parking:
            for space in self.dirty_parking:
                self._publish_keyed(deltas, "parking", space, self._slot_views(space))
            self.dirty_parking = set()
        if self.dirty_queues:
            for name in self.dirty_queues:
                queue_views = {}
                if name in s.queues:
                    tenant = self.tenants.queue_tenant(name)
                    if tenant is not None:
                        queue_views[tenant] = views.queue_view(s, name)
                self._publish_keyed(deltas, "queue", name, queue_views)
            self.dirty_queues = set()
        if deltas:
            self.version += 1
        return deltas

    def _slot_views(self, space: str) -> dict[Any, Any]:
        slot = self.s.parking.get(space)
        if slot is None:
            return {}
        tenant = self.slot_tenant(slot)
        return {} if tenant is None else {tenant: views.slot_view(slot)}

    def _publish_keyed(self, deltas: list[Delta], kind: str, key: str, by_tenant: dict[Any, Any]) -> None:
        owner_key = (kind, key)
        before = self._owners.get(owner_key, set())
        for tenant, view in by_tenant.items():
            pkey = (kind, tenant, key)
            if self._published.get(pkey) != view:
                self._published[pkey] = view
                deltas.append(Delta(tenant, kind, key))
        for tenant in before - set(by_tenant):
            self._published.pop((kind, tenant, key), None)
            deltas.append(Delta(tenant, kind, key))
        if by_tenant:
            self._owners[owner_key] = set(by_tenant)
        else:
            self._owners.pop(owner_key, None)

    # ------------------------------------------------------------------ reading

    def colour(self, ext: str) -> str:
        return views.colour(self.s, ext)

    def tenant_view(self, tenant_id: Any) -> dict[str, Any]:
        """Everything one tenant may see, JSON-able (docs/architecture.md "Live view")."""
        s = self.s
        names = set(self.tenants.user_endpoints(tenant_id))
        endpoint_tenant = self.tenants.endpoint_tenant
        names.update(n for n in s.endpoints if n not in names and endpoint_tenant(n) == tenant_id)
        endpoints = {name: views.endpoint_view(s, name) for name in sorted(names)}
        calls = {}
        for linkedid, call in s.calls.items():
            if any(
                self.channel_tenant(s.channels[uid], call) == tenant_id
                for uid in call.channels
                if uid in s.channels
            ):
                calls[linkedid] = views.call_view(self, call, tenant_id)
        parking = {
            space: views.slot_view(slot)
            for space, slot in sorted(s.parking.items())
            if self.slot_tenant(slot) == tenant_id
        }
        queues = {
            name: views.queue_view(s, name)
            for name in sorted(s.queues)
            if self.tenants.queue_tenant(name) == tenant_id
        }
        return {
            "version": self.version,
            "online": self.online,
            "endpoints": endpoints,
            "calls": calls,
            "parking": parking,
            "queues": queues,
        }
