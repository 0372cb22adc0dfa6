"""The engine's state: plain slotted dataclasses, no behaviour beyond tiny helpers.

Everything is keyed by the identifiers Asterisk keeps stable for the life of an object
(Uniqueid for channels, Linkedid for calls, BridgeUniqueid for bridges, the slot number for
parking, the queue name and member interface for queues), never by arrival order: AMI does
not promise that a Newchannel precedes the events that mention the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Colours of a user box (shared/ami-traces/README.md).
LIGHT_GREY = "light-grey"
WHITE = "white"
YELLOW = "yellow"
DARK_GREY = "dark-grey"
ORANGE = "orange"
LIGHT_GREEN = "light-green"
DARK_GREEN = "dark-green"
COLOURS = (LIGHT_GREY, WHITE, YELLOW, DARK_GREY, ORANGE, LIGHT_GREEN, DARK_GREEN)

# AST_STATE_* numbers as AMI prints them in ChannelState.
STATE_DOWN = 0
STATE_RING = 4  # the calling side: dialling out, not answered yet
STATE_RINGING = 5  # the called side: alerting
STATE_UP = 6
STATE_BUSY = 7
STATE_NAMES = {
    0: "down",
    1: "down",
    2: "dialing",
    3: "dialing",
    4: "dialing",
    5: "ringing",
    6: "up",
    7: "busy",
    8: "dialing",
    9: "ringing",
}

# Queue member Status numbers (AST_DEVICE_*).
MEMBER_STATUS = {
    "0": "unknown",
    "1": "idle",
    "2": "in-use",
    "3": "busy",
    "4": "invalid",
    "5": "unavailable",
    "6": "ringing",
    "7": "ringing-in-use",
    "8": "on-hold",
}

# Bridges whose members do not talk to each other: parked calls share one holding bridge.
HOLDING_BRIDGE_TYPES = frozenset({"parking", "holding"})

# Kinds of party in a call.
KIND_EXTENSION = "extension"
KIND_TRUNK = "trunk"
KIND_LOCAL = "local"
KIND_SPY = "spy"
KIND_VOICEMAIL = "voicemail"
KIND_OTHER = "other"


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    linkedid: str
    tech: str = ""
    endpoint: str | None = None  # PJSIP/<endpoint>-xxxx; None for Local and friends
    kind: str = KIND_OTHER
    tenant: Any = None  # from its endpoint or context; None = decide through its call
    state: int = STATE_DOWN
    number: str = ""
    cid_name: str = ""
    context: str = ""
    exten: str = ""
    app: str = ""
    bridge: str | None = None
    held: bool = False
    held_in: str | None = None  # the bridge the Hold was raised in
    queue: str | None = None  # reached the PBX's agents through this queue
    dials: set[str] = field(default_factory=set)  # Uniqueids this channel is dialling now
    dialed_by: str | None = None
    dial_string: str = ""
    spy_mode: str | None = None
    spying_on: str | None = None  # spyee Uniqueid while ChanSpy runs
    recording: bool = False
    parked: str | None = None  # parking space while parked
    created: float = 0.0


@dataclass(slots=True)
class Bridge:
    uniqueid: str
    type: str = "basic"
    name: str = ""
    channels: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Party:
    """One channel that took part in a call, kept after it hangs up (for the call history)."""

    uniqueid: str
    channel: str
    endpoint: str | None
    kind: str
    number: str
    name: str
    tenant: Any = None
    talked: bool = False  # was bridged with someone (not only rung)


@dataclass(slots=True)
class Call:
    linkedid: str
    started: float
    channels: set[str] = field(default_factory=set)
    parties: dict[str, Party] = field(default_factory=dict)  # Uniqueid -> Party, in order
    answered_at: float | None = None
    queue: str | None = None
    abandoned: bool = False
    dial_statuses: list[str] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    recording: bool = False
    dialed: str = ""
    spy: dict[str, str] | None = None  # a supervisor's ChanSpy session: mode and target


@dataclass(slots=True)
class Endpoint:
    name: str
    registered: bool | None = None  # None: nothing known (treated as not registered)
    contacts: set[str] = field(default_factory=set)
    dnd: bool = False
    presence: str = ""
    channels: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Member:
    interface: str
    name: str = ""
    status: str = "unknown"
    paused: bool = False
    reason: str = ""
    membership: str = ""


@dataclass(slots=True)
class Waiting:
    uniqueid: str
    channel: str
    call: str
    caller: str
    since: float


@dataclass(slots=True)
class Queue:
    name: str
    members: dict[str, Member] = field(default_factory=dict)  # interface -> Member
    waiting: dict[str, Waiting] = field(default_factory=dict)  # Uniqueid -> Waiting


@dataclass(slots=True)
class Slot:
    space: str
    lot: str
    uniqueid: str
    channel: str
    call: str
    parker: str
    since: float
    timeout: int


@dataclass(slots=True)
class State:
    """One PBX as far as AMI told us. Replaced whole by a resync."""

    channels: dict[str, Channel] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # channel name -> Uniqueid
    bridges: dict[str, Bridge] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    parking: dict[str, Slot] = field(default_factory=dict)  # space -> Slot
    # Uniqueids that hung up (bounded, oldest dropped first): an event about a channel that
    # arrives after its Hangup must not bring it back as a ghost.
    gone: dict[str, None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delta:
    """Something visible changed for one tenant: re-read `key` of `kind` from the live view.

    `summary` is set only for kind "call_ended": the finished call, ready for a CallRecord.
    """

    tenant_id: Any
    kind: str  # "endpoint" | "call" | "call_ended" | "parking" | "queue"
    key: str
    summary: dict[str, Any] | None = None
