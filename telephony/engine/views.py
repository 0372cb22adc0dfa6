"""What the console shows: box colours, the per-tenant live view, the finished-call summary.

The colour rule is general (shared/ami-traces/README.md), never per scenario. For each of the
user's own channels we look at its *far parties*: the other channels of its bridge (holding
bridges such as parking excluded: parked calls do not talk to each other) and the channels it
is dialling, seen *through* Local channel pairs (`Local/x@ctx-N;1` stands for whatever its
`;2` half is bridged with or dialling; trace 10's consultation call runs through one).
Then, first match wins:

1. yellow      a channel of the user, or a far party of one, is not answered yet (ringing in
               or out, an Originate ringing the user's phone first, a consultation being dialled);
2. the user's channels that are neither held (Hold on either side of its conversation) nor
   parked decide the talk colour: orange if a far party reached the PBX through a queue, else
   light-green if a far party is a trunk (any endpoint that is not a user extension), else
   dark-green (another extension, a ChanSpy, voicemail, conference, any application);
3. dark-grey   every channel of the user is held or parked;
4. white / light-grey when the user has no channel: registered or not. Not registered wins
   over everything: a box without a contact is light-grey.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import (
    DARK_GREEN,
    DARK_GREY,
    HOLDING_BRIDGE_TYPES,
    KIND_EXTENSION,
    KIND_LOCAL,
    KIND_SPY,
    KIND_TRUNK,
    LIGHT_GREEN,
    LIGHT_GREY,
    ORANGE,
    STATE_BUSY,
    STATE_NAMES,
    STATE_UP,
    WHITE,
    YELLOW,
    Call,
    Channel,
    Slot,
    State,
)

if TYPE_CHECKING:
    from .engine import Engine

_TALK_RANK = {ORANGE: 3, LIGHT_GREEN: 2, DARK_GREEN: 1}


def is_held(c: Channel) -> bool:
    return c.held and (c.held_in is None or c.held_in == c.bridge)


def local_partner(s: State, c: Channel) -> Channel | None:
    """`Local/x@ctx-N;1` <-> `;2`: the two halves of one Local channel."""
    name = c.name
    if name.endswith(";1"):
        other = name[:-1] + "2"
    elif name.endswith(";2"):
        other = name[:-1] + "1"
    else:
        return None
    uid = s.names.get(other)
    return s.channels.get(uid) if uid else None


def far_parties(s: State, c: Channel, seen: set[str] | None = None) -> list[Channel]:
    """The channels `c` talks to or rings, through Local pairs."""
    if seen is None:
        seen = {c.uniqueid}
    out: list[Channel] = []
    bridge = s.bridges.get(c.bridge) if c.bridge else None
    if bridge is not None and bridge.type not in HOLDING_BRIDGE_TYPES:
        for uid in bridge.channels:
            if uid not in seen:
                _expand(s, uid, seen, out)
    for uid in c.dials:
        if uid not in seen:
            _expand(s, uid, seen, out)
    return out


def _expand(s: State, uid: str, seen: set[str], out: list[Channel]) -> None:
    seen.add(uid)
    p = s.channels.get(uid)
    if p is None:
        return
    if p.kind == KIND_LOCAL:
        partner = local_partner(s, p)
        if partner is not None and partner.uniqueid not in seen:
            seen.add(partner.uniqueid)
            beyond = far_parties(s, partner, seen)
            if beyond:
                out.extend(beyond)
                return
    out.append(p)


def _is_parked(s: State, c: Channel) -> bool:
    if c.parked is not None:
        return True
    bridge = s.bridges.get(c.bridge) if c.bridge else None
    return bridge is not None and bridge.type == "parking"


def channel_colour(s: State, c: Channel) -> str:
    """Colour one channel of a user gives its box (no registration check here)."""
    state = c.state
    if state != STATE_UP and state != STATE_BUSY:
        return YELLOW
    if _is_parked(s, c):
        return DARK_GREY
    parties = far_parties(s, c)
    held = is_held(c)
    colour = DARK_GREEN
    for p in parties:
        if p.state != STATE_UP and p.state != STATE_BUSY:
            return YELLOW
        if p.held and is_held(p):
            held = True
        if p.queue is not None:
            colour = ORANGE
        elif p.kind == KIND_TRUNK and colour != ORANGE:
            colour = LIGHT_GREEN
    return DARK_GREY if held else colour


def colour(s: State, name: str) -> str:
    ep = s.endpoints.get(name)
    if ep is None or not ep.registered:
        return LIGHT_GREY
    if not ep.channels:
        return WHITE
    best = ""
    rank = 0
    held = False
    channels = s.channels
    for uid in ep.channels:
        c = channels.get(uid)
        if c is None:
            continue
        found = channel_colour(s, c)
        if found == YELLOW:
            return YELLOW
        if found == DARK_GREY:
            held = True
        elif _TALK_RANK[found] > rank:
            best, rank = found, _TALK_RANK[found]
    if best:
        return best
    return DARK_GREY if held else WHITE


# --------------------------------------------------------------------------- live view


def endpoint_view(s: State, name: str) -> dict[str, Any]:
    ep = s.endpoints.get(name)
    if ep is None:
        return {"colour": LIGHT_GREY, "registered": False, "dnd": False, "presence": "", "calls": []}
    calls = sorted({s.channels[uid].linkedid for uid in ep.channels if uid in s.channels})
    return {
        "colour": colour(s, name),
        "registered": bool(ep.registered),
        "dnd": ep.dnd,
        "presence": ep.presence,
        "calls": calls,
    }


def party_kind(c: Channel) -> str:
    if c.spying_on is not None or c.spy_mode is not None:
        return KIND_SPY
    return c.kind


def party_view(s: State, c: Channel) -> dict[str, Any]:
    view: dict[str, Any] = {
        "channel": c.name,
        "endpoint": c.endpoint if c.kind == KIND_EXTENSION else None,
        "kind": party_kind(c),
        "number": identity_number(c),
        "name": c.cid_name,
        "state": STATE_NAMES.get(c.state, "up"),
        "held": is_held(c),
        "parked_at": c.parked,
    }
    if view["kind"] == KIND_SPY:
        target = s.channels.get(c.spying_on) if c.spying_on else None
        view["spy_mode"] = c.spy_mode or "unknown"
        view["spying_on"] = (target.endpoint or target.name) if target is not None else None
    return view


def identity_number(c: Channel) -> str:
    if c.kind == KIND_EXTENSION and c.endpoint:
        return c.endpoint
    if c.kind == KIND_TRUNK and c.dial_string and c.dialed_by:
        return c.dial_string.partition("@")[0].rpartition("/")[2]
    return c.number


def direction(s: State, call: Call) -> str:
    if call.queue is not None:
        return "queue"
    first = call.parties.get(call.linkedid)
    if first is None and call.parties:
        first = next(iter(call.parties.values()))
    if first is not None and first.kind == KIND_TRUNK:
        return "inbound"
    for p in call.parties.values():
        if p.kind == KIND_TRUNK:
            return "outbound"
    return "internal"


def call_view(eng: Engine, call: Call, tenant: Any) -> dict[str, Any]:
    s = eng.s
    parties = []
    held = False
    parked_at = None
    recording = call.recording
    for uid in call.parties:
        c = s.channels.get(uid)
        if c is None or eng.channel_tenant(c, call) != tenant:
            continue
        parties.append(party_view(s, c))
        held = held or is_held(c)
        parked_at = parked_at or c.parked
        recording = recording or c.recording
    return {
        "id": call.linkedid,
        "direction": direction(s, call),
        "queue": call.queue,
        "answered": call.answered_at is not None,
        "held": held,
        "parked_at": parked_at,
        "recording": recording,
        "started": call.started,
        "answered_at": call.answered_at,
        "parties": parties,
    }


def slot_view(slot: Slot, parker_visible: bool = True) -> dict[str, Any]:
    return {
        "channel": slot.channel,
        "call": slot.call,
        "lot": slot.lot,
        "parker": slot.parker if parker_visible else "",
        "since": slot.since,
        "timeout": slot.timeout,
    }


def queue_view(s: State, name: str) -> dict[str, Any]:
    from .handlers import interface_key

    queue = s.queues.get(name)
    if queue is None:
        return {"waiting": [], "members": {}}
    waiting = sorted(queue.waiting.values(), key=lambda w: w.since)
    return {
        "waiting": [
            {"channel": w.channel, "call": w.call, "caller": w.caller, "since": w.since} for w in waiting
        ],
        "members": {
            interface_key(m.interface): {
                "paused": m.paused,
                "reason": m.reason,
                "status": m.status,
                "interface": m.interface,
                "name": m.name,
            }
            for m in queue.members.values()
        },
    }


# --------------------------------------------------------------------------- call history


def disposition(call: Call) -> str:
    if call.answered_at is not None:
        return "answered"
    if call.abandoned:
        return "abandoned"
    statuses = call.dial_statuses
    if "BUSY" in statuses:
        return "busy"
    if statuses and all(st in ("CHANUNAVAIL", "CONGESTION", "FAILED", "INVALIDARGS") for st in statuses):
        return "failed"
    return "missed"


def summary(s: State, call: Call, ended: float) -> dict[str, Any]:
    """The finished call, for CallRecord: who, which way, how it went, who moved it where."""
    order = []
    first = call.parties.get(call.linkedid) or next(iter(call.parties.values()), None)
    answered = call.answered_at is not None
    for uid, p in call.parties.items():
        c = s.channels.get(uid)
        kind = party_kind(c) if c is not None else p.kind
        if kind == KIND_LOCAL:
            continue
        if answered and not p.talked and p is not first:
            continue  # only rang: the history lists who took part
        if c is not None:
            ident = identity_number(c)
        elif p.kind == KIND_EXTENSION and p.endpoint:
            ident = p.endpoint
        else:
            ident = p.number
        if ident and (not order or order[-1] != ident):
            order.append(ident)
    caller = order[0] if order else ""
    callee = next((x for x in order[1:] if x != caller), "") or call.dialed
    return {
        "linkedid": call.linkedid,
        "direction": direction(s, call),
        "disposition": disposition(call),
        "caller": caller,
        "callee": callee,
        "queue": call.queue,
        "parties": order,
        "transfers": list(call.transfers),
        "recording": call.recording,
        "spy": call.spy,
        "started": call.started,
        "answered": call.answered_at,
        "ended": ended,
    }
