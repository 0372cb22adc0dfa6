"""Header blocks of AMI events, in the field order Asterisk 22 uses (see shared/ami-traces).

Asterisk builds most events from a few "snapshots": a channel block (`Channel` … `Linkedid`),
the same block with a prefix (`Dest`, `Parkee`, `Spyer`, `Transferee` …) and a bridge block.
Keeping them here, once, is what makes every event's header names and order match the captures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.simulator.pbx import Bridge, Channel

Headers = list[tuple[str, str]]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
DOWN, RING, RINGING, UP = 0, 4, 5, 6

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}


def channel_block(ch: Channel, prefix: str = "") -> Headers:
    return [
        (f"{prefix}Channel", ch.name),
        (f"{prefix}ChannelState", str(ch.state)),
        (f"{prefix}ChannelStateDesc", STATE_DESC.get(ch.state, "Unknown")),
        (f"{prefix}CallerIDNum", ch.cid_num),
        (f"{prefix}CallerIDName", ch.cid_name),
        (f"{prefix}ConnectedLineNum", ch.conn_num),
        (f"{prefix}ConnectedLineName", ch.conn_name),
        (f"{prefix}Language", "en"),
        (f"{prefix}AccountCode", ""),
        (f"{prefix}Context", ch.context),
        (f"{prefix}Exten", ch.exten),
        (f"{prefix}Priority", str(ch.priority)),
        (f"{prefix}Uniqueid", ch.uniqueid),
        (f"{prefix}Linkedid", ch.linkedid),
    ]


def bridge_block(br: Bridge, prefix: str = "") -> Headers:
    return [
        (f"{prefix}BridgeUniqueid", br.uniqueid),
        (f"{prefix}BridgeType", br.type),
        (f"{prefix}BridgeTechnology", br.technology),
        (f"{prefix}BridgeCreator", br.creator),
        (f"{prefix}BridgeName", br.name),
        (f"{prefix}BridgeNumChannels", str(len(br.channels))),
        (f"{prefix}BridgeVideoSourceMode", "none"),
    ]


def event(name: str, privilege: str | None, headers: Headers) -> Headers:
    head: Headers = [("Event", name)]
    if privilege is not None:
        head.append(("Privilege", privilege))
    return head + headers


def encode(headers: Headers) -> bytes:
    """One frame on the wire; values never hold CR/LF (the simulator builds them all)."""
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode()


def queue_member_block(queue: str, member: object) -> Headers:
    m = member  # telephony.simulator.pbx.QueueMember
    return [
        ("Queue", queue),
        ("MemberName", m.name),  # type: ignore[attr-defined]
        ("Interface", m.interface),  # type: ignore[attr-defined]
        ("StateInterface", m.interface),  # type: ignore[attr-defined]
        ("Membership", m.membership),  # type: ignore[attr-defined]
        ("Penalty", "0"),
        ("CallsTaken", str(m.calls_taken)),  # type: ignore[attr-defined]
        ("LastCall", str(m.last_call)),  # type: ignore[attr-defined]
        ("LastPause", str(m.last_pause)),  # type: ignore[attr-defined]
        ("LoginTime", str(m.login_time)),  # type: ignore[attr-defined]
        ("InCall", "1" if m.in_call else "0"),  # type: ignore[attr-defined]
        ("Status", str(m.status)),  # type: ignore[attr-defined]
        ("Paused", "1" if m.paused else "0"),  # type: ignore[attr-defined]
        ("PausedReason", m.reason),  # type: ignore[attr-defined]
        ("Ringinuse", "0"),
        ("Wrapuptime", "0"),
    ]
