"""Event handlers: one small function per AMI event, each `(engine, frame) -> None`.

They change `engine.s` (the State) and note what they touched in the engine's dirty sets; the
engine turns dirty keys into deltas once per frame. Rules every handler keeps:

- Order tolerance: any event that names a channel creates it when it is unknown
  (`channel_from`), so a missing or late Newchannel costs nothing; removals of unknown things
  are no-ops. Asterisk documents no ordering between a channel's events and its peers'.
- Idempotence: sets, keyed upserts, "discard" not "remove"; the same event twice changes
  nothing the second time.
- Every event carries the channel's current snapshot (state, caller id, Linkedid), so each one
  refreshes it. Linkedid can change (a channel bridged into another call adopts that call's
  Linkedid, see trace 07's unpark): the channel then moves to the other call, and a call left
  without channels that way was merged, not ended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import (
    HOLDING_BRIDGE_TYPES,
    KIND_EXTENSION,
    KIND_LOCAL,
    KIND_OTHER,
    KIND_TRUNK,
    KIND_VOICEMAIL,
    MEMBER_STATUS,
    STATE_UP,
    Bridge,
    Call,
    Channel,
    Endpoint,
    Member,
    Party,
    Queue,
    Slot,
    Waiting,
)
from .views import identity_number, party_kind

if TYPE_CHECKING:
    from .engine import Engine
    from .model import State

Frame = dict[str, Any]

# Channel technologies whose channel names carry an endpoint ("PJSIP/1001-0000000c").
ENDPOINT_TECHS = frozenset({"PJSIP", "SIP", "IAX2", "DAHDI", "Skinny", "UnistimSIP", "Motif", "WebRTC"})
SPY_APPS = frozenset({"ChanSpy", "ExtenSpy"})
VOICEMAIL_APPS = frozenset({"VoiceMail", "VoiceMailMain"})
# Device states that say nothing about registration.
_NO_INFO_DEVICE_STATES = frozenset({"UNKNOWN", "INVALID", ""})
_CONTACT_UP = frozenset({"Created", "Reachable", "NonQualified", "Updated"})
GONE_LIMIT = 4096


# --------------------------------------------------------------------------- helpers


def split_channel_name(name: str) -> tuple[str, str | None]:
    """("PJSIP", "1001") from "PJSIP/1001-0000000c"; ("Local", None) for Local channels."""
    tech, _, rest = name.partition("/")
    if tech not in ENDPOINT_TECHS:
        return tech, None
    endpoint, dash, _suffix = rest.rpartition("-")
    return tech, (endpoint if dash else rest) or None


def interface_key(interface: str) -> str:
    """Queue member key: "PJSIP/1003" -> "1003", "Local/1003@from-queue/n" -> "1003"."""
    _tech, slash, rest = interface.partition("/")
    if not slash:
        return interface
    return rest.partition("@")[0].partition("/")[0] or interface


def dial_number(dial_string: str) -> str:
    """The number a Dial() aimed at: "15551234567@carrier" -> "15551234567"."""
    rest = dial_string.rpartition("/")[2] if "/" in dial_string else dial_string
    return rest.partition("@")[0].partition(",")[0]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _seconds(duration: Any) -> int:
    """ "00:01:07" (CoreShowChannel Duration) -> 67."""
    total = 0
    for part in str(duration or "").split(":"):
        total = total * 60 + _int(part)
    return total


def endpoint_of(s: State, name: str) -> Endpoint:
    ep = s.endpoints.get(name)
    if ep is None:
        ep = s.endpoints[name] = Endpoint(name)
    return ep


def touch_bridge(eng: Engine, bridge_id: str | None) -> None:
    """A change in a bridge recolours everyone in it, whatever call they belong to."""
    if not bridge_id:
        return
    bridge = eng.s.bridges.get(bridge_id)
    if bridge is None:
        return
    channels = eng.s.channels
    dirty = eng.dirty_calls
    for uid in bridge.channels:
        peer = channels.get(uid)
        if peer is not None:
            dirty.add(peer.linkedid)


def _new_call(eng: Engine, linkedid: str) -> Call:
    call = eng.s.calls[linkedid] = Call(linkedid, started=eng.clock())
    return call


def _new_channel(eng: Engine, uid: str, name: str, linkedid: str) -> Channel:
    s = eng.s
    tech, endpoint = split_channel_name(name)
    tenants = eng.tenants
    tenant = tenants.endpoint_tenant(endpoint)
    if tech == "Local":
        kind = KIND_LOCAL
    elif endpoint is None:
        kind = KIND_OTHER
    elif tenant is not None:
        kind = KIND_EXTENSION
    else:
        kind = KIND_TRUNK
    c = Channel(
        uid, name, linkedid, tech=tech, endpoint=endpoint, kind=kind, tenant=tenant, created=eng.clock()
    )
    s.channels[uid] = c
    s.names[name] = uid
    call = s.calls.get(linkedid) or _new_call(eng, linkedid)
    call.channels.add(uid)
    call.parties[uid] = Party(uid, name, endpoint, kind, "", "")
    if endpoint is not None:
        endpoint_of(s, endpoint).channels.add(uid)
        eng.dirty_endpoints.add(endpoint)
    return c


def _move_channel(eng: Engine, c: Channel, linkedid: str) -> None:
    """The channel adopted another call's Linkedid: move it, merging an emptied call."""
    s = eng.s
    old = s.calls.get(c.linkedid)
    new = s.calls.get(linkedid) or _new_call(eng, linkedid)
    eng.dirty_calls.add(c.linkedid)
    c.linkedid = linkedid
    new.channels.add(c.uniqueid)
    if old is None:
        new.parties.setdefault(
            c.uniqueid, Party(c.uniqueid, c.name, c.endpoint, c.kind, c.number, c.cid_name)
        )
        return
    old.channels.discard(c.uniqueid)
    party = old.parties.get(c.uniqueid)
    if party is not None and c.uniqueid not in new.parties:
        new.parties[c.uniqueid] = party
    if not old.channels:
        # Merged, not ended: its history continues in the call it joined.
        for uid, p in old.parties.items():
            new.parties.setdefault(uid, p)
        new.transfers.extend(old.transfers)
        new.transfers.sort(key=lambda t: t.get("at") or 0)
        new.started = min(new.started, old.started)
        if old.answered_at is not None and (new.answered_at is None or old.answered_at < new.answered_at):
            new.answered_at = old.answered_at
        new.recording = new.recording or old.recording
        new.queue = new.queue or old.queue
        new.dialed = new.dialed or old.dialed
        del s.calls[old.linkedid]


def channel_from(eng: Engine, f: Frame, prefix: str = "") -> Channel | None:
    """The channel an event names (with header prefix "", "Dest", "Spyer", ...), made current.

    Creates it when unknown: AMI event order is not guaranteed, so any event may be first.
    """
    uid = f.get(prefix + "Uniqueid")
    if not uid or uid == "<unknown>":
        return None
    s = eng.s
    c = s.channels.get(uid)
    name = f.get(prefix + "Channel") or ""
    linkedid = f.get(prefix + "Linkedid") or ""
    if c is None:
        if not name or uid in s.gone:
            return None
        c = _new_channel(eng, uid, name, linkedid or uid)
        changed = True
    else:
        changed = False
        if name and name != c.name:
            rename(eng, c, name)
            changed = True
        if linkedid and linkedid != c.linkedid:
            _move_channel(eng, c, linkedid)
            changed = True
    state = f.get(prefix + "ChannelState")
    if state is not None:
        value = _int(state, c.state)
        if value != c.state:
            c.state = value
            changed = True
    number = f.get(prefix + "CallerIDNum")
    if number and number != c.number and number != "<unknown>":
        c.number = number
        changed = True
    if c.tenant is None and not c.context:
        context = f.get(prefix + "Context")
        if context:
            c.context = context
            c.tenant = eng.tenants.context_tenant(context)
    if changed:
        eng.dirty_calls.add(c.linkedid)
        if c.bridge:
            touch_bridge(eng, c.bridge)
    return c


def rename(eng: Engine, c: Channel, new_name: str) -> None:
    """Rename / masquerade: the Uniqueid stays, the name (and maybe the endpoint) changes."""
    s = eng.s
    if s.names.get(c.name) == c.uniqueid:
        del s.names[c.name]
    c.name = new_name
    s.names[new_name] = c.uniqueid
    tech, endpoint = split_channel_name(new_name)
    if endpoint != c.endpoint:
        if c.endpoint is not None:
            old = s.endpoints.get(c.endpoint)
            if old is not None:
                old.channels.discard(c.uniqueid)
            eng.dirty_endpoints.add(c.endpoint)
        c.endpoint = endpoint
        if endpoint is not None:
            endpoint_of(s, endpoint).channels.add(c.uniqueid)
            eng.dirty_endpoints.add(endpoint)
        tenant = eng.tenants.endpoint_tenant(endpoint)
        if tenant is not None:
            c.tenant = tenant
    c.tech = tech
    if tech == "Local":
        c.kind = KIND_LOCAL
    elif c.endpoint is not None:
        c.kind = KIND_EXTENSION if eng.tenants.is_user(c.endpoint) else KIND_TRUNK
    call = s.calls.get(c.linkedid)
    if call is not None and c.uniqueid in call.parties:
        party = call.parties[c.uniqueid]
        party.channel, party.endpoint, party.kind = new_name, c.endpoint, c.kind
    eng.dirty_calls.add(c.linkedid)


def _leave_bridge(eng: Engine, c: Channel, bridge_id: str) -> None:
    bridge = eng.s.bridges.get(bridge_id)
    if bridge is not None:
        touch_bridge(eng, bridge_id)
        bridge.channels.discard(c.uniqueid)
    if c.bridge == bridge_id:
        c.bridge = None
    if c.held and c.held_in == bridge_id:
        # A phone's Hold belongs to the conversation it was raised in (trace 10: the
        # transferer holds the caller, then talks to the consultation target).
        c.held = False
        c.held_in = None
    eng.dirty_calls.add(c.linkedid)


def remove_channel(eng: Engine, c: Channel) -> None:
    """Hangup: the channel is gone; a call whose last channel went has ended."""
    s = eng.s
    if c.bridge:
        _leave_bridge(eng, c, c.bridge)
    s.channels.pop(c.uniqueid, None)
    s.gone[c.uniqueid] = None
    if len(s.gone) > GONE_LIMIT:
        del s.gone[next(iter(s.gone))]
    if s.names.get(c.name) == c.uniqueid:
        del s.names[c.name]
    if c.endpoint is not None:
        ep = s.endpoints.get(c.endpoint)
        if ep is not None:
            ep.channels.discard(c.uniqueid)
        eng.dirty_endpoints.add(c.endpoint)
    if c.dialed_by:
        dialer = s.channels.get(c.dialed_by)
        if dialer is not None:
            dialer.dials.discard(c.uniqueid)
            eng.dirty_calls.add(dialer.linkedid)
    for uid in c.dials:
        dest = s.channels.get(uid)
        if dest is not None and dest.dialed_by == c.uniqueid:
            dest.dialed_by = None
    if c.parked is not None:
        slot = s.parking.get(c.parked)
        if slot is not None and slot.uniqueid == c.uniqueid:
            del s.parking[c.parked]
            eng.dirty_parking.add(c.parked)
    if c.queue is not None:
        queue = s.queues.get(c.queue)
        if queue is not None and queue.waiting.pop(c.uniqueid, None) is not None:
            eng.dirty_queues.add(c.queue)
    call = s.calls.get(c.linkedid)
    eng.dirty_calls.add(c.linkedid)
    if call is None:
        return
    party = call.parties.get(c.uniqueid)
    if party is not None:
        party.tenant = eng.channel_tenant(c, call)
        party.number = identity_number(c)
        party.name = c.cid_name
        party.kind = party_kind(c)
    call.channels.discard(c.uniqueid)
    if c.recording:
        call.recording = True
    if not call.channels:
        eng.end_call(call)


def _slot_remove(eng: Engine, f: Frame) -> None:
    space = f.get("ParkingSpace") or ""
    slot = eng.s.parking.get(space)
    uid = f.get("ParkeeUniqueid")
    if slot is not None and (not uid or slot.uniqueid == uid):
        del eng.s.parking[space]
        eng.dirty_parking.add(space)
    c = eng.s.channels.get(uid or "")
    if c is not None and c.parked == space:
        c.parked = None
        eng.dirty_calls.add(c.linkedid)


def _record_transfer(eng: Engine, call_id: str, **transfer: Any) -> None:
    call = eng.s.calls.get(call_id)
    if call is None:
        return
    last = call.transfers[-1] if call.transfers else None
    if last is not None and all(last.get(k) == v for k, v in transfer.items()):
        return  # the same event twice (or a note and its event): one step of history
    transfer["at"] = eng.clock()
    call.transfers.append(transfer)
    eng.dirty_calls.add(call_id)


def identity(c: Channel | None) -> str:
    """How a party is named in the history: the extension, else the number."""
    if c is None:
        return ""
    if c.kind == KIND_EXTENSION and c.endpoint:
        return c.endpoint
    if c.kind == KIND_LOCAL:
        return c.name.partition("/")[2].partition("@")[0]
    return c.number or (dial_number(c.dial_string) if c.dial_string else "") or (c.endpoint or "")


# --------------------------------------------------------------------------- channels


def on_channel(eng: Engine, f: Frame) -> None:
    """Newchannel, Newstate, NewCallerid, Hold's cousins: just refresh the snapshot."""
    c = channel_from(eng, f)
    if c is not None:
        name = f.get("CallerIDName")
        if name and name != "<unknown>":
            c.cid_name = name


def on_newexten(eng: Engine, f: Frame) -> None:
    c = channel_from(eng, f)
    if c is None:
        return
    app = f.get("Application") or ""
    if app and app != c.app:
        c.app = app
        if app in VOICEMAIL_APPS and c.kind == KIND_LOCAL:
            c.kind = KIND_VOICEMAIL
        eng.dirty_calls.add(c.linkedid)


def on_rename(eng: Engine, f: Frame) -> None:
    uid = f.get("Uniqueid") or eng.s.names.get(f.get("Channel") or "")
    c = eng.s.channels.get(uid or "")
    new_name = f.get("Newname")
    if c is not None and new_name:
        rename(eng, c, new_name)


def on_hangup(eng: Engine, f: Frame) -> None:
    uid = f.get("Uniqueid")
    c = eng.s.channels.get(uid or "")
    if c is None:
        return
    remove_channel(eng, c)


def on_hold(eng: Engine, f: Frame) -> None:
    c = channel_from(eng, f)
    if c is None:
        return
    held = f.get("Event") == "Hold"
    if c.held != held:
        c.held = held
        c.held_in = c.bridge if held else None
        eng.dirty_calls.add(c.linkedid)
        touch_bridge(eng, c.bridge)


def on_dial_begin(eng: Engine, f: Frame) -> None:
    src = channel_from(eng, f)
    dst = channel_from(eng, f, "Dest")
    if dst is None:
        return
    dial_string = f.get("DialString") or ""
    dst.dial_string = dst.dial_string or dial_string
    call = eng.s.calls.get(dst.linkedid)
    if call is not None and not call.dialed and src is not None:
        call.dialed = dial_number(dial_string)
    if src is not None and dst.uniqueid not in src.dials:
        src.dials.add(dst.uniqueid)
        dst.dialed_by = src.uniqueid
        eng.dirty_calls.add(src.linkedid)
    eng.dirty_calls.add(dst.linkedid)


def on_dial_state(eng: Engine, f: Frame) -> None:
    channel_from(eng, f)
    channel_from(eng, f, "Dest")


def on_dial_end(eng: Engine, f: Frame) -> None:
    src = channel_from(eng, f)
    dst = channel_from(eng, f, "Dest")
    status = f.get("DialStatus") or ""
    if src is not None:
        call = eng.s.calls.get(src.linkedid)
        if call is not None and status:
            call.dial_statuses.append(status)
        if dst is not None and dst.uniqueid in src.dials:
            src.dials.discard(dst.uniqueid)
            eng.dirty_calls.add(src.linkedid)
    if dst is not None and src is not None and dst.dialed_by == src.uniqueid:
        dst.dialed_by = None


def on_local_bridge(eng: Engine, f: Frame) -> None:
    """LocalBridge / LocalOptimizationBegin / End: both halves are refreshed; the actual
    optimisation shows up as BridgeEnter (with SwapUniqueid) and Hangups, handled there."""
    channel_from(eng, f, "LocalOne")
    channel_from(eng, f, "LocalTwo")


# --------------------------------------------------------------------------- bridges


def _bridge(eng: Engine, bridge_id: str, f: Frame | None = None, prefix: str = "") -> Bridge:
    bridge = eng.s.bridges.get(bridge_id)
    if bridge is None:
        bridge = eng.s.bridges[bridge_id] = Bridge(bridge_id)
    if f is not None:
        kind = f.get(prefix + "BridgeType")
        if kind:
            bridge.type = kind
        name = f.get(prefix + "BridgeName")
        if name and name != "<unknown>":
            bridge.name = name
    return bridge


def on_bridge_create(eng: Engine, f: Frame) -> None:
    bridge_id = f.get("BridgeUniqueid")
    if bridge_id:
        _bridge(eng, bridge_id, f)


def enter_bridge(eng: Engine, c: Channel, bridge: Bridge) -> None:
    if c.bridge and c.bridge != bridge.uniqueid:
        _leave_bridge(eng, c, c.bridge)
    c.bridge = bridge.uniqueid
    bridge.channels.add(c.uniqueid)
    if c.held and c.held_in is not None and c.held_in != bridge.uniqueid:
        c.held = False
        c.held_in = None
    touch_bridge(eng, bridge.uniqueid)
    if len(bridge.channels) >= 2 and bridge.type not in HOLDING_BRIDGE_TYPES:
        now = eng.clock()
        s = eng.s
        for uid in bridge.channels:
            peer = s.channels.get(uid)
            call = s.calls.get(peer.linkedid) if peer is not None else None
            if call is None:
                continue
            if call.answered_at is None:
                call.answered_at = now
            party = call.parties.get(uid)
            if party is not None:
                party.talked = True


def on_bridge_enter(eng: Engine, f: Frame) -> None:
    bridge_id = f.get("BridgeUniqueid")
    c = channel_from(eng, f)
    if not bridge_id or c is None:
        return
    bridge = _bridge(eng, bridge_id, f)
    swap = f.get("SwapUniqueid")
    if swap and swap in bridge.channels:
        other = eng.s.channels.get(swap)
        if other is not None:
            _leave_bridge(eng, other, bridge_id)
        else:
            bridge.channels.discard(swap)
    enter_bridge(eng, c, bridge)


def on_bridge_leave(eng: Engine, f: Frame) -> None:
    bridge_id = f.get("BridgeUniqueid")
    c = channel_from(eng, f)
    if bridge_id and c is not None:
        _leave_bridge(eng, c, bridge_id)


def on_bridge_destroy(eng: Engine, f: Frame) -> None:
    bridge_id = f.get("BridgeUniqueid") or ""
    bridge = eng.s.bridges.get(bridge_id)
    if bridge is None:
        return
    touch_bridge(eng, bridge_id)
    for uid in list(bridge.channels):
        c = eng.s.channels.get(uid)
        if c is not None and c.bridge == bridge_id:
            c.bridge = None
    del eng.s.bridges[bridge_id]


def on_bridge_merge(eng: Engine, f: Frame) -> None:
    to_id = f.get("ToBridgeUniqueid")
    from_id = f.get("FromBridgeUniqueid")
    if not to_id or not from_id or to_id == from_id:
        return
    target = _bridge(eng, to_id, f, "To")
    source = eng.s.bridges.get(from_id)
    if source is None:
        return
    for uid in list(source.channels):
        c = eng.s.channels.get(uid)
        if c is not None:
            enter_bridge(eng, c, target)


def on_bridge_list_item(eng: Engine, f: Frame) -> None:
    bridge_id = f.get("BridgeUniqueid")
    if bridge_id:
        _bridge(eng, bridge_id, f)


def on_channel_row(eng: Engine, f: Frame) -> None:
    """CoreShowChannel / Status rows (snapshot): the channel, its app, its bridge, its age."""
    c = channel_from(eng, f)
    if c is None:
        return
    app = f.get("Application") or ""
    if app:
        c.app = app
    name = f.get("CallerIDName")
    if name and name != "<unknown>":
        c.cid_name = name
    seconds = _seconds(f.get("Duration")) if "Duration" in f else _int(f.get("Seconds"))
    if seconds:
        started = eng.clock() - seconds
        c.created = min(c.created, started)
        call = eng.s.calls.get(c.linkedid)
        if call is not None and started < call.started:
            call.started = started
    bridge_id = f.get("BridgeId") or f.get("BridgeID")
    if bridge_id:
        enter_bridge(eng, c, _bridge(eng, bridge_id))
    elif c.bridge:
        _leave_bridge(eng, c, c.bridge)


# --------------------------------------------------------------------------- features


def on_mixmonitor(eng: Engine, f: Frame) -> None:
    c = channel_from(eng, f)
    if c is None:
        return
    on = f.get("Event") == "MixMonitorStart"
    if c.recording != on:
        c.recording = on
        call = eng.s.calls.get(c.linkedid)
        if call is not None and on:
            call.recording = True
        eng.dirty_calls.add(c.linkedid)
        touch_bridge(eng, c.bridge)


def on_chanspy_start(eng: Engine, f: Frame) -> None:
    spyer = channel_from(eng, f, "Spyer")
    spyee = channel_from(eng, f, "Spyee")
    if spyer is None:
        return
    spyer.spying_on = spyee.uniqueid if spyee is not None else None
    if spyer.spy_mode is None:
        spyer.spy_mode = eng.take_spy_note(spyer)
    call = eng.s.calls.get(spyer.linkedid)
    if call is not None:
        # A supervisor's spy session is a call of its own; it was "answered" when it began.
        if call.answered_at is None:
            call.answered_at = eng.clock()
        if call.spy is None and spyee is not None:
            call.spy = {"mode": spyer.spy_mode or "unknown", "target": identity(spyee)}
        party = call.parties.get(spyer.uniqueid)
        if party is not None:
            party.talked = True
    eng.dirty_calls.add(spyer.linkedid)


def on_chanspy_stop(eng: Engine, f: Frame) -> None:
    spyer = channel_from(eng, f, "Spyer")
    if spyer is not None and spyer.spying_on is not None:
        spyer.spying_on = None
        eng.dirty_calls.add(spyer.linkedid)


def on_originate_response(eng: Engine, f: Frame) -> None:
    """Ties an Originate the product sent (note_originate, by ActionID) to its channel."""
    uid = f.get("Uniqueid") or ""
    c = eng.s.channels.get(uid)
    note = eng.originates.pop(f.get("ActionID") or "", None)
    if c is None:
        return
    mode = note.get("spy_mode") if note else None
    if mode is None and f.get("Application") in SPY_APPS:
        mode = spy_mode_from_options(f.get("Data") or "")
    if mode is not None and c.spy_mode != mode:
        c.spy_mode = mode
        eng.dirty_calls.add(c.linkedid)


def spy_mode_from_options(data: str) -> str:
    """ChanSpy(target,options): B = barge, w = whisper, anything else only listens."""
    options = data.partition(",")[2]
    options = options.split("(")[0] if "(" in options else options
    if "B" in options:
        return "barge"
    if "w" in options or "W" in options:
        return "whisper"
    return "listen"


def on_pickup(eng: Engine, f: Frame) -> None:
    picker = channel_from(eng, f)
    target = channel_from(eng, f, "Target")
    if picker is None or target is None:
        return
    _record_transfer(
        eng,
        target.linkedid,
        by=identity(picker),
        to=identity(picker),
        kind="pickup",
        **{"from": identity(target)},
    )


def on_blind_transfer(eng: Engine, f: Frame) -> None:
    if f.get("Result") not in (None, "Success"):
        return
    transferer = channel_from(eng, f, "Transferer")
    transferee = channel_from(eng, f, "Transferee")
    to = f.get("Extension") or ""
    call_id = (transferee or transferer).linkedid if (transferee or transferer) else None
    if call_id:
        _record_transfer(eng, call_id, by=identity(transferer), to=to, kind="blind")


def on_attended_transfer(eng: Engine, f: Frame) -> None:
    if f.get("Result") not in (None, "Success"):
        return
    transferer = channel_from(eng, f, "OrigTransferer")
    transferee = channel_from(eng, f, "Transferee")
    target = channel_from(eng, f, "TransferTarget")
    to = identity(target) if target is not None and target.kind != KIND_LOCAL else ""
    to = to or f.get("TransferTargetExten") or f.get("DestApp") or identity(target)
    call_id = (transferee or transferer).linkedid if (transferee or transferer) else None
    if call_id:
        _record_transfer(eng, call_id, by=identity(transferer), to=to, kind="attended")


# --------------------------------------------------------------------------- parking


def on_parked_call(eng: Engine, f: Frame) -> None:
    """ParkedCall event and ParkedCalls list row (same shape)."""
    c = channel_from(eng, f, "Parkee")
    space = f.get("ParkingSpace")
    if c is None or not space:
        return
    s = eng.s
    parker = dial_number(f.get("ParkerDialString") or "")
    duration = _int(f.get("ParkingDuration"))
    existing = s.parking.get(space)
    if existing is not None and existing.uniqueid == c.uniqueid:
        existing.timeout = _int(f.get("ParkingTimeout"), existing.timeout)
        return
    if c.parked and c.parked != space:
        s.parking.pop(c.parked, None)
        eng.dirty_parking.add(c.parked)
    s.parking[space] = Slot(
        space,
        f.get("Parkinglot") or "",
        c.uniqueid,
        c.name,
        c.linkedid,
        parker,
        eng.clock() - duration,
        _int(f.get("ParkingTimeout")),
    )
    c.parked = space
    eng.dirty_parking.add(space)
    eng.dirty_calls.add(c.linkedid)
    if "ActionID" not in f:  # a live park, not a list row: it is a step of the call's history
        _record_transfer(eng, c.linkedid, by=parker, to=space, kind="park")


def on_unparked(eng: Engine, f: Frame) -> None:
    """UnParkedCall, ParkedCallTimeOut, ParkedCallGiveUp: the slot is free."""
    channel_from(eng, f, "Parkee")
    _slot_remove(eng, f)


def on_parked_swap(eng: Engine, f: Frame) -> None:
    c = channel_from(eng, f, "Parkee")
    space = f.get("ParkingSpace") or ""
    slot = eng.s.parking.get(space)
    if c is None or slot is None:
        return
    old = eng.s.channels.get(slot.uniqueid)
    if old is not None and old.parked == space:
        old.parked = None
    slot.uniqueid, slot.channel, slot.call = c.uniqueid, c.name, c.linkedid
    c.parked = space
    eng.dirty_parking.add(space)
    eng.dirty_calls.add(c.linkedid)


# --------------------------------------------------------------------------- queues


def _queue(eng: Engine, name: str) -> Queue:
    queue = eng.s.queues.get(name)
    if queue is None:
        queue = eng.s.queues[name] = Queue(name)
        eng.dirty_queues.add(name)
    return queue


def on_queue_params(eng: Engine, f: Frame) -> None:
    name = f.get("Queue")
    if name:
        _queue(eng, name)


def on_queue_member(eng: Engine, f: Frame) -> None:
    """QueueMember rows and QueueMemberStatus / Added / Pause events: upsert the member."""
    name = f.get("Queue")
    interface = f.get("Interface") or f.get("Location") or f.get("StateInterface")
    if not name or not interface:
        return
    queue = _queue(eng, name)
    member = queue.members.get(interface)
    if member is None:
        member = queue.members[interface] = Member(interface)
    before = (member.name, member.status, member.paused, member.reason, member.membership)
    member.name = f.get("MemberName") or f.get("Name") or member.name
    status = f.get("Status")
    if status is not None:
        member.status = MEMBER_STATUS.get(status, member.status)
    paused = f.get("Paused")
    if paused is not None:
        member.paused = paused == "1"
        member.reason = (f.get("PausedReason") or f.get("Reason") or "") if member.paused else ""
    member.membership = f.get("Membership") or member.membership
    if before != (member.name, member.status, member.paused, member.reason, member.membership):
        eng.dirty_queues.add(name)


def on_queue_member_removed(eng: Engine, f: Frame) -> None:
    queue = eng.s.queues.get(f.get("Queue") or "")
    interface = f.get("Interface") or f.get("Location") or ""
    if queue is not None and queue.members.pop(interface, None) is not None:
        eng.dirty_queues.add(queue.name)


def on_queue_caller_join(eng: Engine, f: Frame) -> None:
    c = channel_from(eng, f)
    name = f.get("Queue")
    if c is None or not name:
        return
    queue = _queue(eng, name)
    c.queue = name
    call = eng.s.calls.get(c.linkedid)
    if call is not None:
        call.queue = call.queue or name
    if c.uniqueid not in queue.waiting:
        queue.waiting[c.uniqueid] = Waiting(c.uniqueid, c.name, c.linkedid, c.number, eng.clock())
        eng.dirty_queues.add(name)
    eng.dirty_calls.add(c.linkedid)


def on_queue_entry(eng: Engine, f: Frame) -> None:
    """QueueEntry row (QueueStatus): a caller waiting now, `Wait` seconds so far."""
    name = f.get("Queue")
    uid = f.get("Uniqueid")
    if not name or not uid:
        return
    c = channel_from(eng, f)
    queue = _queue(eng, name)
    since = eng.clock() - _int(f.get("Wait"))
    if c is not None:
        c.queue = name
        call = eng.s.calls.get(c.linkedid)
        if call is not None:
            call.queue = call.queue or name
    if uid not in queue.waiting:
        queue.waiting[uid] = Waiting(
            uid,
            f.get("Channel") or "",
            c.linkedid if c is not None else uid,
            f.get("CallerIDNum") or "",
            since,
        )
        eng.dirty_queues.add(name)


def on_queue_caller_leave(eng: Engine, f: Frame) -> None:
    c = channel_from(eng, f)
    queue = eng.s.queues.get(f.get("Queue") or "")
    uid = f.get("Uniqueid") or ""
    if queue is not None and queue.waiting.pop(uid, None) is not None:
        eng.dirty_queues.add(queue.name)
    if f.get("Event") == "QueueCallerAbandon" and c is not None:
        call = eng.s.calls.get(c.linkedid)
        if call is not None:
            call.abandoned = True


# --------------------------------------------------------------------------- endpoints


def on_contact(eng: Engine, f: Frame) -> None:
    """ContactList rows and ContactStatus events: the phone's registrations."""
    endpoint = f.get("Endpoint") or f.get("EndpointName") or f.get("AOR")
    if not endpoint:
        return
    ep = endpoint_of(eng.s, endpoint)
    uri = f.get("Uri") or f.get("URI") or f.get("ObjectName") or ""
    status = f.get("ContactStatus")
    before = ep.registered
    if status is None:  # a ContactList row: the contact exists
        ep.contacts.add(uri)
        ep.registered = True
    elif status == "Removed":
        ep.contacts.discard(uri)
        ep.registered = bool(ep.contacts)
    elif status in _CONTACT_UP:
        ep.contacts.add(uri)
        ep.registered = True
    elif status == "Unreachable":
        ep.registered = False
    if ep.registered != before:
        eng.dirty_endpoints.add(endpoint)


def on_device_state(eng: Engine, f: Frame) -> None:
    """DeviceStateChange: `PJSIP/<ep>` UNAVAILABLE = no contact; `Custom:DND<ep>` = DND."""
    device = f.get("Device") or ""
    state = f.get("State") or ""
    if device.startswith("Custom:DND"):
        name = device[10:]
        if not name:
            return
        ep = endpoint_of(eng.s, name)
        dnd = state not in ("NOT_INUSE", "UNKNOWN", "INVALID", "")
        if ep.dnd != dnd:
            ep.dnd = dnd
            eng.dirty_endpoints.add(name)
        return
    tech, slash, name = device.partition("/")
    if not slash or tech not in ENDPOINT_TECHS or state in _NO_INFO_DEVICE_STATES:
        return
    ep = endpoint_of(eng.s, name)
    registered = state != "UNAVAILABLE"
    if ep.registered != registered:
        ep.registered = registered
        eng.dirty_endpoints.add(name)


def on_extension_status(eng: Engine, f: Frame) -> None:
    """ExtensionStatus of hints `PJSIP/<ext>&Custom:DND<ext>`: Busy (bit 2) is the DND leg,
    Unavailable (4) means the phone has no contact."""
    hint = f.get("Hint") or ""
    status = _int(f.get("Status"), -1)
    if status < 0 or not hint:
        return
    for device in hint.split("&"):
        if device.startswith("Custom:DND"):
            name = device[10:]
            ep = endpoint_of(eng.s, name)
            dnd = bool(status & 2)
            if ep.dnd != dnd:
                ep.dnd = dnd
                eng.dirty_endpoints.add(name)
        elif status == 4:
            tech, slash, name = device.partition("/")
            if slash and tech in ENDPOINT_TECHS:
                ep = endpoint_of(eng.s, name)
                if ep.registered is not False:
                    ep.registered = False
                    eng.dirty_endpoints.add(name)


def on_presence(eng: Engine, f: Frame) -> None:
    presentity = f.get("Presentity") or ""
    name = presentity.partition(":")[2]
    if not name:
        return
    ep = endpoint_of(eng.s, name)
    presence = (f.get("Status") or f.get("State") or "").lower()
    if ep.presence != presence:
        ep.presence = presence
        eng.dirty_endpoints.add(name)


def on_shutdown(eng: Engine, f: Frame) -> None:
    eng.shutdown()


HANDLERS: dict[str, Any] = {
    "Newchannel": on_channel,
    "Newstate": on_channel,
    "NewCallerid": on_channel,
    "Newexten": on_newexten,
    "Rename": on_rename,
    "Hangup": on_hangup,
    "Hold": on_hold,
    "Unhold": on_hold,
    "DialBegin": on_dial_begin,
    "DialState": on_dial_state,
    "DialEnd": on_dial_end,
    "LocalBridge": on_local_bridge,
    "LocalOptimizationBegin": on_local_bridge,
    "LocalOptimizationEnd": on_local_bridge,
    "BridgeCreate": on_bridge_create,
    "BridgeEnter": on_bridge_enter,
    "BridgeLeave": on_bridge_leave,
    "BridgeDestroy": on_bridge_destroy,
    "BridgeMerge": on_bridge_merge,
    "BridgeListItem": on_bridge_list_item,
    "CoreShowChannel": on_channel_row,
    "Status": on_channel_row,
    "MixMonitorStart": on_mixmonitor,
    "MixMonitorStop": on_mixmonitor,
    "ChanSpyStart": on_chanspy_start,
    "ChanSpyStop": on_chanspy_stop,
    "OriginateResponse": on_originate_response,
    "Pickup": on_pickup,
    "BlindTransfer": on_blind_transfer,
    "AttendedTransfer": on_attended_transfer,
    "ParkedCall": on_parked_call,
    "UnParkedCall": on_unparked,
    "ParkedCallTimeOut": on_unparked,
    "ParkedCallGiveUp": on_unparked,
    "ParkedCallSwap": on_parked_swap,
    "QueueParams": on_queue_params,
    "QueueMember": on_queue_member,
    "QueueMemberStatus": on_queue_member,
    "QueueMemberAdded": on_queue_member,
    "QueueMemberPause": on_queue_member,
    "QueueMemberPaused": on_queue_member,
    "QueueMemberRemoved": on_queue_member_removed,
    "QueueCallerJoin": on_queue_caller_join,
    "QueueEntry": on_queue_entry,
    "QueueCallerLeave": on_queue_caller_leave,
    "QueueCallerAbandon": on_queue_caller_leave,
    "ContactList": on_contact,
    "ContactStatus": on_contact,
    "DeviceStateChange": on_device_state,
    "ExtensionStatus": on_extension_status,
    "PresenceStateChange": on_presence,
    "PresenceStatus": on_presence,
    "Shutdown": on_shutdown,
}

# Rows of the snapshot actions (they carry the action's ActionID).
SNAPSHOT_ROWS = frozenset(
    {
        "ContactList",
        "DeviceStateChange",
        "ExtensionStatus",
        "CoreShowChannel",
        "BridgeListItem",
        "ParkedCall",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "Status",
    }
)

__all__ = ["HANDLERS", "SNAPSHOT_ROWS", "STATE_UP", "identity"]
