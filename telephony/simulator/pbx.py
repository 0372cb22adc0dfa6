"""The simulated PBX: endpoints, channels, bridges, dialplan, queues, parking, spies, recordings.

Every state change goes through one method here and emits the AMI events Asterisk 22 emits for
it, in the order the captures in shared/ami-traces show (per channel; across channels Asterisk
itself is racy). All mutation happens under `self.lock` (an RLock): AMI actions (session threads),
the scheduler (ringing, answering, timeouts) and the Python API all take it, so the event stream
is one total order and every client sees the same one.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.simulator.clock import Scheduler, Timer
from telephony.simulator.events import (
    CAUSE_TEXT,
    DOWN,
    RING,
    RINGING,
    UP,
    Headers,
    bridge_block,
    channel_block,
    event,
    queue_member_block,
)
from telephony.simulator.layout import PbxLayout

UNKNOWN = "<unknown>"
INTERCOM = "switchboard-intercom"  # docs/asterisk/extensions_switchboard.conf
INTERCOM_HEADERS = "switchboard-intercom-headers"
# ExtensionStatus codes of Asterisk (ast_extension_state).
EXT_IDLE, EXT_INUSE, EXT_BUSY, EXT_UNAVAILABLE, EXT_RINGING, EXT_ONHOLD = 0, 1, 2, 4, 8, 16
EXT_TEXT = {
    0: "Idle",
    1: "InUse",
    2: "Busy",
    4: "Unavailable",
    8: "Ringing",
    9: "InUse&Ringing",
    16: "Hold",
    17: "InUse&Hold",
}
# QueueMember Status: ast_device_state numbers.
DEV_NUM = {"NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "UNAVAILABLE": 5, "RINGING": 6, "RINGINUSE": 7, "ONHOLD": 8}


class SimError(Exception):
    """An action the PBX refuses; the message is the exact text Asterisk answers with."""


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = UNKNOWN
    name: str = UNKNOWN
    channels: list[Channel] = field(default_factory=list)
    created: float = 0.0
    queue_call: tuple[str, Channel, Channel, float, float] | None = None  # queue, caller, agent, hold, t


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    endpoint: str  # "1001", the trunk name, or "" (Local)
    state: int
    cid_num: str
    cid_name: str
    context: str
    exten: str
    priority: int = 1
    conn_num: str = UNKNOWN
    conn_name: str = UNKNOWN
    app: str = ""
    app_data: str = ""
    created: float = field(default_factory=time.time)
    bridge: Bridge | None = None
    held: bool = False
    hung: bool = False
    dial_parent: Channel | None = None
    dial_legs: list[Channel] = field(default_factory=list)
    dial_timer: Timer | None = None
    after_dial: Callable[[Channel, str], None] | None = None
    queue: str | None = None
    queue_joined: float = 0.0
    parked_slot: str | None = None
    parker: str = ""
    spying: Channel | None = None
    spy_mode: str = ""
    mixmonitor: bool = False
    originate: dict[str, object] | None = None
    atxfer: dict[str, object] | None = None
    timers: list[Timer] = field(default_factory=list)
    local_peer: Channel | None = None
    xfer_owner: Channel | None = None  # Local halves of a consultation: the transferer
    transferred: bool = False  # Local ;1 handed to the transferee: optimise away on answer
    auto_answer: bool = False  # Call-Info answer-after=0 (intercom): the phone answers at once

    @property
    def is_phone(self) -> bool:
        return self.name.startswith("PJSIP/") and not self.name.startswith("PJSIP/carrier")


@dataclass
class QueueMember:
    ext: str
    name: str
    membership: str  # static | dynamic
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = field(default_factory=lambda: int(time.time()))
    in_call: bool = False
    status: int = 1

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.ext}"


@dataclass
class QueueState:
    name: str
    number: str
    strategy: str
    timeout: int
    retry: int
    max_wait: int
    members: dict[str, QueueMember] = field(default_factory=dict)  # by extension
    callers: list[Channel] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0


class Pbx:
    def __init__(
        self,
        layout: PbxLayout,
        scheduler: Scheduler,
        *,
        emit: Callable[[Headers], None],
        answer_delay: float | None = 0.0,
        outside_answer_delay: float | None = 0.0,
        seed: int | None = None,
    ) -> None:
        self.layout = layout
        self.clock = scheduler
        self._sink = emit
        self.answer_delay = answer_delay
        self.outside_answer_delay = outside_answer_delay
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.booted = time.time()
        self._uid = itertools.count(1)
        self._chan_seq = itertools.count(1)
        self._local_seq = itertools.count(0)
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.registered: set[str] = set(layout.extensions) - set(layout.unregistered)
        self.contacts: dict[str, str] = {e: self._contact_uri(e) for e in layout.extensions}
        self.dnd: set[str] = set()
        self.presence: dict[str, str] = {}
        self.dev_state: dict[str, str] = {}
        self.ext_status: dict[str, int] = {}
        self.parking: dict[str, Channel] = {}
        self.parking_bridge: Bridge | None = None
        self.queues: dict[str, QueueState] = {}
        for q in layout.queues:
            state = QueueState(q.name, q.number, q.strategy, q.timeout, q.retry, q.max_wait)
            for ext in q.members:
                state.members[ext] = QueueMember(ext, layout.names.get(ext, ext), "static")
            self.queues[q.name] = state
        for ext in layout.extensions:
            self.dev_state[f"PJSIP/{ext}"] = self._device_state(ext)
            self.ext_status[ext] = self._ext_status(ext)
        self.hangups = 0  # finished channels, for consistency checks
        self._held: list[Headers] | None = None
        self._shutting_down = False

    # ---------------------------------------------------------------- emission and ids

    def emit(self, name: str, privilege: str | None, headers: Headers) -> None:
        frame = event(name, privilege, headers)
        if self._held is not None:
            self._held.append(frame)
        else:
            self._sink(frame)

    def hold_events(self) -> None:
        """Collect events until release_events(): an action validates and changes state in one
        step, but Asterisk writes its Response before the events the change caused."""
        self._held = []

    def release_events(self) -> None:
        held, self._held = self._held or [], None
        for frame in held:
            self._sink(frame)

    def _new_uniqueid(self) -> str:
        return f"{int(time.time())}.{next(self._uid)}"

    def _new_bridge(self, **kwargs: str) -> Bridge:
        bridge = Bridge(
            str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), created=time.time(), **kwargs
        )
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", "call,all", bridge_block(bridge))
        return bridge

    def _contact_uri(self, ext: str) -> str:
        return f"sip:{ext}-0x{self.rng.getrandbits(40):x}@127.0.0.1:{5000 + int(ext) % 1000 * 10 if ext.isdigit() else 5999}"

    def new_channel(
        self,
        endpoint: str,
        *,
        state: int,
        cid_num: str,
        cid_name: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
        name: str | None = None,
    ) -> Channel:
        uid = self._new_uniqueid()
        ch = Channel(
            name=name or f"PJSIP/{endpoint}-{next(self._chan_seq):08x}",
            uniqueid=uid,
            linkedid=linkedid or uid,
            endpoint=endpoint,
            state=state,
            cid_num=cid_num,
            cid_name=cid_name,
            context=context,
            exten=exten,
        )
        self.channels[ch.name] = ch
        self.emit("Newchannel", "call,all", channel_block(ch))
        return ch

    def later(self, ch: Channel | None, delay: float | None, fn: Callable[[], None]) -> Timer | None:
        """Run fn after delay under the PBX lock, unless ch has hung up meanwhile."""
        if delay is None:
            return None

        def run() -> None:
            with self.lock:
                if ch is None or not ch.hung:
                    fn()

        timer = self.clock.call_later(delay, run)
        if ch is not None:
            ch.timers.append(timer)
        return timer

    # ---------------------------------------------------------------- small event helpers

    def varset(self, ch: Channel, variable: str, value: str) -> None:
        self.emit("VarSet", "dialplan,all", [*channel_block(ch), ("Variable", variable), ("Value", value)])

    def newexten(self, ch: Channel, app: str, data: str) -> None:
        ch.app, ch.app_data = app, data
        self.emit(
            "Newexten",
            "dialplan,all",
            [*channel_block(ch), ("Extension", ch.exten), ("Application", app), ("AppData", data)],
        )

    def set_state(self, ch: Channel, state: int) -> None:
        if ch.state == state:
            return
        ch.state = state
        self.emit("Newstate", "call,all", channel_block(ch))
        self.refresh(ch.endpoint)
        one = ch.local_peer
        if state == UP and ch.name.endswith(";2") and one is not None and not one.hung and one.state != UP:
            # A Local channel answers both halves: ;1 is up once ;2 is (trace 10).
            self.set_state(one, UP)
            self.dial_event("DialEnd", None, one, [("DialStatus", "ANSWER")])

    def connected(self, ch: Channel, num: str, name: str) -> None:
        ch.conn_num, ch.conn_name = num, name
        self.emit("NewConnectedLine", "call,all", channel_block(ch))

    def dial_event(self, name: str, caller: Channel | None, leg: Channel, tail: Headers) -> None:
        head = channel_block(caller) if caller is not None else []
        self.emit(name, "call,all", [*head, *channel_block(leg, "Dest"), *tail])

    # ---------------------------------------------------------------- device and hint state

    def endpoint_channels(self, ext: str) -> list[Channel]:
        return [c for c in self.channels.values() if c.endpoint == ext and not c.hung]

    def _device_state(self, ext: str) -> str:
        if ext not in self.registered:
            return "UNAVAILABLE"
        chans = self.endpoint_channels(ext)
        if not chans:
            return "NOT_INUSE"
        ringing = any(c.state == RINGING for c in chans)
        busy = any(c.state != RINGING for c in chans)
        if ringing:
            return "RINGINUSE" if busy else "RINGING"
        if any(self._is_held_by_peer(c) for c in chans):
            return "ONHOLD"
        return "INUSE"

    def _is_held_by_peer(self, ch: Channel) -> bool:
        """Asterisk marks the device ONHOLD when its channel hears hold music from the peer."""
        return ch.bridge is not None and any(o.held for o in ch.bridge.channels if o is not ch)

    def _ext_status(self, ext: str) -> int:
        dev = self._device_state(ext)
        if dev == "UNAVAILABLE":
            return EXT_BUSY if ext in self.dnd else EXT_UNAVAILABLE
        status = {
            "NOT_INUSE": EXT_IDLE,
            "INUSE": EXT_INUSE,
            "RINGING": EXT_RINGING,
            "RINGINUSE": EXT_RINGING | EXT_INUSE,
            "ONHOLD": EXT_ONHOLD,
        }[dev]
        if ext in self.dnd and status == EXT_IDLE:
            return EXT_BUSY
        return status

    def refresh(self, ext: str) -> None:
        """Emit ExtensionStatus / DeviceStateChange / QueueMemberStatus when ext's state moved."""
        if ext not in self.layout.extensions:
            return
        status = self._ext_status(ext)
        if self.ext_status.get(ext) != status:
            self.ext_status[ext] = status
            self.emit("ExtensionStatus", "call,all", self._ext_status_headers(ext))
        device = f"PJSIP/{ext}"
        dev = self._device_state(ext)
        if self.dev_state.get(device) != dev:
            self.dev_state[device] = dev
            self.emit("DeviceStateChange", "call,all", [("Device", device), ("State", dev)])
            for q in self.queues.values():
                member = q.members.get(ext)
                if member is not None:
                    member.status = DEV_NUM[dev]
                    member.in_call = dev in ("INUSE", "ONHOLD", "RINGINUSE")
                    self.emit("QueueMemberStatus", "agent,all", queue_member_block(q.name, member))
            if dev in ("NOT_INUSE",):
                self.later(None, 0.0, self.queue_kick)

    def _ext_status_headers(self, ext: str) -> Headers:
        status = self.ext_status[ext]
        return [
            ("Exten", ext),
            ("Context", "internal"),
            ("Hint", f"PJSIP/{ext}&Custom:DND{ext}"),
            ("Status", str(status)),
            ("StatusText", EXT_TEXT.get(status, "Unknown")),
        ]

    # ---------------------------------------------------------------- registration, DND

    def set_registered(self, ext: str, registered: bool) -> None:
        if ext not in self.layout.extensions or (ext in self.registered) == registered:
            return
        uri = self.contacts[ext]
        if registered:
            self.registered.add(ext)
            self.contacts[ext] = uri = self._contact_uri(ext)
        else:
            self.registered.discard(ext)
        self.emit(
            "PeerStatus",
            "system,all",
            [
                ("ChannelType", "PJSIP"),
                ("Peer", f"PJSIP/{ext}"),
                ("PeerStatus", "Reachable" if registered else "Unreachable"),
            ],
        )
        device = f"PJSIP/{ext}"
        self.dev_state[device] = self._device_state(ext)
        self.emit("DeviceStateChange", "call,all", [("Device", device), ("State", self.dev_state[device])])
        self.emit(
            "ContactStatus",
            "system,all",
            [
                ("URI", uri),
                ("ContactStatus", "NonQualified" if registered else "Removed"),
                ("AOR", ext),
                ("EndpointName", ext),
                ("RoundtripUsec", "0"),
            ],
        )
        self.refresh(ext)
        if registered:
            self.queue_kick()

    def set_dnd(self, ext: str, on: bool) -> None:
        """DND is the custom device state Custom:DND<ext> that the hint folds in (trace 16)."""
        if on:
            self.dnd.add(ext)
        else:
            self.dnd.discard(ext)
        if ext in self.layout.extensions:
            self.refresh(ext)
        self.emit(
            "DeviceStateChange",
            "call,all",
            [("Device", f"Custom:DND{ext}"), ("State", "BUSY" if on else "NOT_INUSE")],
        )

    # ---------------------------------------------------------------- phones start calls

    def phone_dials(self, ext: str, number: str) -> Channel:
        """A registered phone sends INVITE: the channel starts in `internal` at the dialled number."""
        if ext not in self.registered:
            raise SimError(f"phone {ext} is not registered")
        ch = self.new_channel(
            ext,
            state=RING,
            cid_num=ext,
            cid_name=self.layout.names.get(ext, ext),
            context="internal",
            exten=number,
        )
        self.varset(ch, "SIPDOMAIN", "127.0.0.1")
        self.run_dialplan(ch, "internal", number)
        return ch

    def carrier_calls(self, did: str, caller: str, caller_name: str | None = None) -> Channel:
        ch = self.new_channel(
            self.layout.trunk,
            state=RING,
            cid_num=caller,
            cid_name=caller_name or f"Caller {caller.lstrip('+')}",
            context="from-carrier",
            exten=did,
        )
        self.run_dialplan(ch, "from-carrier", did)
        return ch

    # ---------------------------------------------------------------- dialplan

    def run_dialplan(self, ch: Channel, context: str, exten: str, priority: int = 1) -> None:
        """The contexts of pbx-config/extensions.conf, one branch per pattern."""
        ch.context, ch.exten, ch.priority = context, exten, priority
        lay = self.layout
        if context == "from-carrier":
            if exten in lay.did_to_ext:
                self.newexten(ch, "NoOp", "DID to reception")
                ch.priority = 2
                self.newexten(ch, "Goto", f"internal,{lay.did_to_ext[exten]},1")
                return self.run_dialplan(ch, "internal", lay.did_to_ext[exten])
            for prefix, target in lay.did_prefix_to_queue.items():
                if exten.startswith(prefix) and len(exten) == 7:
                    self.newexten(ch, "NoOp", "DID to support queue")
                    ch.priority = 2
                    self.newexten(ch, "Goto", f"internal,{target},1")
                    return self.run_dialplan(ch, "internal", target)
            return self.hangup(ch, 1, soft=True)
        if context == "ivr-main":
            return self._ivr(ch, exten)
        if context == INTERCOM:
            return self._intercom(ch, exten)
        if context != "internal":
            return self.hangup(ch, 1, soft=True)
        if exten in lay.extensions:
            self.newexten(ch, "NoOp", f"Internal call to {exten}")
            ch.priority = 2
            self.newexten(ch, "Dial", f"PJSIP/{exten},{lay.dial_timeout},tTkK")
            return self.dial(ch, exten, exten, lay.dial_timeout, after=self._after_internal_dial)
        if exten.startswith(lay.voicemail_prefix) and exten[1:] in lay.extensions:
            self.newexten(ch, "NoOp", f"Straight to voicemail {exten[1:]}")
            ch.priority = 2
            return self.voicemail(ch, exten[1:])
        queue = lay.queue_by_number(exten)
        if queue is not None:
            self.newexten(ch, "NoOp", "Support queue")
            ch.priority = 2
            self.newexten(ch, "Answer", "")
            self.set_state(ch, UP)
            ch.priority = 3
            self.newexten(ch, "Queue", f"{queue.name},tT,,,{queue.max_wait}")
            return self.queue_join(ch, queue.name)
        if exten == lay.ivr_ext:
            self.newexten(ch, "NoOp", "Main menu")
            ch.priority = 2
            self.newexten(ch, "Goto", "ivr-main,s,1")
            return self.run_dialplan(ch, "ivr-main", "s")
        if lay.is_slot(exten):
            return self.parked_call_app(ch, exten)
        prefix = lay.outbound_prefix
        number = exten[len(prefix) :] if exten.startswith(prefix) else ""
        digits = number[1:] if number.startswith("+") else number
        if len(digits) >= 2 and digits.isdigit():
            # _9X. (pbx-config) and _9+X. (docs/asterisk, switchboard-features): ${EXTEN:1} is
            # dialled at the trunk, a leading + included.
            plus = number.startswith("+")
            self.newexten(ch, "NoOp", f"Switchboard: outbound {number}" if plus else f"Outbound {number}")
            ch.priority = 2
            self.newexten(ch, "Dial", f"PJSIP/{number}@{lay.trunk},30,tT")
            return self.dial(ch, lay.trunk, number, 30, after=self._after_outbound_dial)
        if exten in ("600", "610"):
            self.newexten(ch, "Answer", "")
            self.set_state(ch, UP)
            ch.priority = 2
            self.newexten(
                ch, "Echo" if exten == "600" else "MusicOnHold", "" if exten == "600" else "default"
            )
            return None
        # No such extension: Asterisk answers nothing and hangs the channel up.
        return self.hangup(ch, 1, soft=True)

    def _after_internal_dial(self, ch: Channel, status: str) -> None:
        ch.priority = 3
        self.voicemail(ch, ch.exten, busy=status == "BUSY")

    def _after_outbound_dial(self, ch: Channel, status: str) -> None:
        ch.priority = 3
        self.newexten(ch, "Hangup", "")
        self.hangup(ch, 17 if status == "BUSY" else 16, soft=True)

    def _intercom(self, ch: Channel, exten: str) -> None:
        """[switchboard-intercom] of docs/asterisk: Dial with a pre-dial handler that adds the
        auto-answer headers, so the callee's phone answers by itself; Hangup after."""
        if not (len(exten) >= 2 and exten.isdigit()):  # _X.
            return self.hangup(ch, 1, soft=True)
        self.newexten(ch, "NoOp", f"Switchboard: intercom to {exten}")
        ch.priority = 2
        timeout = self.layout.dial_timeout
        self.newexten(ch, "Dial", f"PJSIP/{exten},{timeout},b({INTERCOM_HEADERS}^s^1)")
        return self.dial(ch, exten, exten, timeout, after=self._after_intercom, predial=INTERCOM_HEADERS)

    def _after_intercom(self, ch: Channel, status: str) -> None:
        ch.priority = 3
        self.newexten(ch, "Hangup", "")
        self.hangup(ch, 17 if status == "BUSY" else 16, soft=True)

    def _predial_headers(self, leg: Channel, context: str) -> None:
        """Dial's b(context^s^1): the Gosub runs on the new callee channel before it is called."""
        saved = (leg.context, leg.exten, leg.priority)
        leg.context, leg.exten = context, "s"
        steps = [
            ("Set", "PJSIP_HEADER(add,Call-Info)=<sip:intercom>;answer-after=0"),
            ("Set", "PJSIP_HEADER(add,Alert-Info)=<http://localhost>;info=alert-autoanswer;delay=0"),
            ("Return", ""),
        ]
        for n, (app, data) in enumerate(steps, 1):
            leg.priority = n
            self.newexten(leg, app, data)
        leg.context, leg.exten, leg.priority = saved
        leg.auto_answer = True

    def voicemail(self, ch: Channel, box: str, *, busy: bool = False) -> None:
        """VoiceMail answers the caller and keeps it (alone, no ringing) until it hangs up."""
        self.newexten(ch, "VoiceMail", f"{box}@default,{'b' if busy else 'u'}")
        self.set_state(ch, UP)

    def _ivr(self, ch: Channel, exten: str) -> None:
        if exten == "s":
            self.newexten(ch, "Answer", "")
            self.set_state(ch, UP)
            ch.priority = 2
            self.newexten(ch, "Set", f"TIMEOUT(response)={int(self.layout.ivr_timeout)}")
            ch.priority = 3
            self.newexten(ch, "WaitExten", str(int(self.layout.ivr_timeout)))
            self.later(ch, self.layout.ivr_timeout, lambda: self._ivr_choice(ch, "t"))
            return
        target = {"1": "8000", "2": "1001"}.get(exten, "8000")
        self.newexten(
            ch,
            "Goto" if exten != "t" else "NoOp",
            f"internal,{target},1" if exten != "t" else "No choice: to the support queue",
        )
        self.run_dialplan(ch, "internal", target)

    def _ivr_choice(self, ch: Channel, digit: str) -> None:
        if ch.hung or ch.context != "ivr-main" or ch.app != "WaitExten":
            return
        for timer in ch.timers:
            timer.cancel()
        ch.timers.clear()
        ch.context, ch.exten, ch.priority = "ivr-main", digit, 1
        self._ivr(ch, digit)

    # ---------------------------------------------------------------- Dial

    def dial(
        self,
        caller: Channel,
        endpoint: str,
        dialstring: str,
        timeout: float,
        *,
        after: Callable[[Channel, str], None],
        predial: str | None = None,
    ) -> None:
        for var in (
            "DIALSTATUS",
            "DIALEDPEERNUMBER",
            "DIALEDPEERNAME",
            "ANSWEREDTIME",
            "DIALEDTIME",
            "RINGTIME",
            "PROGRESSTIME",
        ):
            self.varset(caller, var, "")
        caller.after_dial = after
        if endpoint != self.layout.trunk and endpoint not in self.registered:
            # PJSIP has no contact: Dial fails at once with CHANUNAVAIL and the dialplan goes on.
            self.varset(caller, "DIALSTATUS", "CHANUNAVAIL")
            return after(caller, "CHANUNAVAIL")
        busy = self.phone_busy(endpoint)
        leg = self._ring_leg(caller, endpoint, dialstring, predial=predial, ring=not busy)
        caller.dial_legs.append(leg)
        if busy:
            # One line, already on a call: the phone answers the INVITE with 486 Busy Here.
            # Dial ends BUSY (cause 17) and the dialplan goes on (voicemail with `b`).
            return self.hangup(leg, 17)
        caller.dial_timer = self.later(caller, timeout, lambda: self._dial_timeout(caller))
        return None

    def phone_busy(self, endpoint: str) -> bool:
        """A phone without call waiting that already has a channel refuses a second call."""
        return (
            endpoint in self.layout.extensions
            and not self.layout.call_waiting
            and bool(self.endpoint_channels(endpoint))
        )

    def _ring_leg(
        self,
        caller: Channel,
        endpoint: str,
        dialstring: str,
        *,
        queue: str | None = None,
        predial: str | None = None,
        ring: bool = True,
    ) -> Channel:
        trunk = endpoint == self.layout.trunk
        if trunk:
            leg = self.new_channel(
                endpoint,
                state=DOWN,
                cid_num=UNKNOWN,
                cid_name=UNKNOWN,
                context="from-carrier",
                exten="s",
                linkedid=caller.linkedid,
            )
        else:
            leg = self.new_channel(
                endpoint,
                state=DOWN,
                cid_num=endpoint,
                cid_name=self.layout.names.get(endpoint, endpoint),
                context="internal",
                exten="s",
                linkedid=caller.linkedid,
            )
        leg.dial_parent = caller
        if not trunk:
            self.varset(leg, "DIALEDPEERNUMBER", dialstring)
        leg.exten = caller.exten
        self.connected(leg, caller.cid_num, caller.cid_name)
        if predial is not None:
            self._predial_headers(leg, predial)
        if queue is not None:
            member = self.queues[queue].members[endpoint]
            self.emit(
                "AgentCalled",
                "agent,all",
                [
                    *channel_block(caller),
                    *channel_block(leg, "Dest"),
                    ("Queue", queue),
                    ("Interface", member.interface),
                    ("MemberName", member.name),
                ],
            )
        self.dial_event(
            "DialBegin",
            caller,
            leg,
            [("DialString", dialstring if not trunk else f"{dialstring}@{endpoint}")],
        )
        if trunk:
            self.connected(caller, dialstring, "")
        else:
            self.connected(caller, endpoint, self.layout.names.get(endpoint, endpoint))
        if not ring:
            return leg
        self.set_state(leg, RINGING)
        self.dial_event("DialState", caller, leg, [("DialStatus", "RINGING")])
        self.refresh(caller.endpoint)
        delay = self.outside_answer_delay if trunk else 0.0 if leg.auto_answer else self.answer_delay
        self.later(leg, delay, lambda: self.answer_channel(leg))
        return leg

    def _dial_timeout(self, caller: Channel) -> None:
        legs = list(caller.dial_legs)
        caller.dial_legs.clear()
        for leg in legs:
            self.dial_event("DialEnd", caller, leg, [("DialStatus", "NOANSWER")])
            self.hangup(leg, 0, soft=True)
        self.varset(caller, "DIALSTATUS", "NOANSWER")
        if caller.after_dial is not None:
            caller.after_dial(caller, "NOANSWER")

    def answer_channel(self, leg: Channel) -> None:
        """The phone (or the outside party) answers its ringing channel."""
        if leg.hung or leg.state == UP:
            return
        parent = leg.dial_parent
        if leg.originate is not None:
            return self._originate_answered(leg)
        self.set_state(leg, UP)
        if parent is None or parent.hung:
            return None
        self.connect_dial(parent, leg)
        return None

    def connect_dial(self, parent: Channel, leg: Channel) -> None:
        """Dial (or Queue) got its answer: cancel the other legs, bridge caller and leg."""
        if parent.dial_timer is not None:
            parent.dial_timer.cancel()
        self.varset(parent, "DIALSTATUS", "ANSWER")
        self.varset(parent, "DIALEDPEERNAME", leg.name)
        self.dial_event("DialEnd", parent, leg, [("DialStatus", "ANSWER")])
        others = [o for o in parent.dial_legs if o is not leg]
        parent.dial_legs.clear()
        for other in others:
            self.dial_event("DialEnd", parent, other, [("DialStatus", "CANCEL")])
        if parent.queue is not None:
            # app_queue reports each cancelled leg twice (ring_entry hangup, then cleanup): 05, 12.
            for other in others:
                self.dial_event("DialEnd", parent, other, [("DialStatus", "CANCEL")])
        queue_info = None
        if parent.queue is not None:
            q = self.queues[parent.queue]
            hold = time.time() - parent.queue_joined
            self.emit("MusicOnHoldStop", "call,all", channel_block(parent))
            for other in others:
                self.hangup(other, 26, soft=True)
            others = []
            self._queue_leave(parent)
            member = q.members.get(leg.endpoint)
            self.emit(
                "AgentConnect",
                "agent,all",
                [
                    *channel_block(parent),
                    *channel_block(leg, "Dest"),
                    ("Queue", q.name),
                    ("Interface", f"PJSIP/{leg.endpoint}"),
                    ("MemberName", member.name if member else leg.endpoint),
                    ("HoldTime", str(int(hold))),
                    ("RingTime", str(int(time.time() - leg.created))),
                ],
            )
            if member is not None:
                member.calls_taken += 1
                member.last_call = int(time.time())
            queue_info = (q.name, parent, leg, hold, time.time())
        for other in others:
            self.hangup(other, 26, soft=True)
        if parent.state != UP:
            self.set_state(parent, UP)
        leg.exten = ""
        bridge = self._new_bridge()
        bridge.queue_call = queue_info
        self.newexten(leg, "AppDial", "(Outgoing Line)")
        self.bridge_enter(bridge, leg)
        self.bridge_enter(bridge, parent)
        self.varset(leg, "BRIDGEPEER", parent.name)
        self.varset(parent, "BRIDGEPEER", leg.name)
        one = parent.local_peer
        if one is not None and one.transferred and not one.hung:
            # The consultation was handed to the caller while it rang: now the target is up,
            # the Local pair optimises itself away as in trace 10.
            self._local_optimize(one, parent)

    def bridge_enter(self, bridge: Bridge, ch: Channel, swap: str | None = None) -> None:
        bridge.channels.append(ch)
        ch.bridge = bridge
        tail: Headers = [("SwapUniqueid", swap)] if swap is not None else []
        self.emit("BridgeEnter", "call,all", [*bridge_block(bridge), *channel_block(ch), *tail])
        self.refresh(ch.endpoint)

    def bridge_leave(self, ch: Channel) -> Bridge | None:
        bridge = ch.bridge
        if bridge is None:
            return None
        bridge.channels.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", "call,all", [*bridge_block(bridge), *channel_block(ch)])
        return bridge

    def destroy_bridge(self, bridge: Bridge) -> None:
        if bridge is self.parking_bridge or bridge.uniqueid not in self.bridges:
            return
        del self.bridges[bridge.uniqueid]
        self.emit("BridgeDestroy", "call,all", bridge_block(bridge))
        self._transferee_gone(bridge)

    # ---------------------------------------------------------------- hangup

    def hangup(self, ch: Channel, cause: int = 16, *, soft: bool = False, tech_cause: bool = False) -> None:
        """Tear a channel down. `soft` = the PBX (or AMI) asked; otherwise the far end hung up.

        The peer of a two-party basic bridge is soft-hung-up after the channel leaves, as Dial
        does when the other side hangs up; a caller whose ringing legs all fail goes on in
        the dialplan (voicemail), as Asterisk's Dial returns.
        """
        if ch.hung:
            return
        if ch.atxfer is not None and not self._shutting_down:
            return self.complete_atxfer(ch, soft=soft, cause=cause)
        ch.hung = True
        for timer in ch.timers:
            timer.cancel()
        ch.timers.clear()
        if ch.dial_timer is not None:
            ch.dial_timer.cancel()
        self.emit(
            "SoftHangupRequest" if soft else "HangupRequest",
            "call,all",
            [*channel_block(ch), ("Cause", str(cause))],
        )
        # a bridged queue call reports how it ended
        if ch.bridge is not None and ch.bridge.queue_call is not None:
            qname, caller, agent, hold, since = ch.bridge.queue_call
            ch.bridge.queue_call = None
            member = self.queues[qname].members.get(agent.endpoint)
            self.queues[qname].completed += 1
            self.emit(
                "AgentComplete",
                "agent,all",
                [
                    *channel_block(caller),
                    *channel_block(agent, "Dest"),
                    ("Queue", qname),
                    ("Interface", f"PJSIP/{agent.endpoint}"),
                    ("MemberName", member.name if member else agent.endpoint),
                    ("HoldTime", str(int(hold))),
                    ("TalkTime", str(int(time.time() - since))),
                    ("Reason", "agent" if ch is agent else "caller"),
                ],
            )
        legs = list(ch.dial_legs)
        ch.dial_legs.clear()
        for _ in range(2 if ch.queue is not None else 1):  # app_queue: twice (trace 21)
            for leg in legs:
                self.dial_event("DialEnd", ch, leg, [("DialStatus", "CANCEL")])
        if ch.queue is not None:
            q = self.queues[ch.queue]
            q.abandoned += 1
            pos = q.callers.index(ch) + 1
            self.emit(
                "QueueCallerAbandon",
                "agent,all",
                [
                    *channel_block(ch),
                    ("Queue", q.name),
                    ("Position", str(pos)),
                    ("OriginalPosition", str(pos)),
                    ("HoldTime", str(int(time.time() - ch.queue_joined))),
                ],
            )
            self._queue_leave(ch)
        if ch.parked_slot is not None:
            self.emit("ParkedCallGiveUp", "call,all", self._parked_headers(ch))
            self._unpark(ch)
        if ch.spying is not None:
            self._spy_stop(ch)
        for spy in [c for c in self.channels.values() if c.spying is ch]:
            self._spy_stop(spy)
            self.hangup(spy, 16, soft=True)  # ChanSpy option E: leave when the spied-on hangs up
        if ch.atxfer is not None:
            self._atxfer_hangup(ch)
        peers: list[Channel] = []
        bridge = ch.bridge
        if bridge is not None:
            self.bridge_leave(ch)
            if bridge is not self.parking_bridge and len(bridge.channels) == 1 and bridge.type == "basic":
                peer = bridge.channels[0]
                if peer.atxfer is None:
                    self.bridge_leave(peer)
                    peers.append(peer)
            if not bridge.channels:
                self.destroy_bridge(bridge)
        for peer in peers:
            # The bridge ends: the side that joined it from Dial (the caller) gets a soft
            # hangup; the dialled side is hung up by Dial without one (02, 03, 06, 11, 23).
            asked = ch if peer.dial_parent is ch and not soft else peer
            self.emit("SoftHangupRequest", "call,all", [*channel_block(asked), ("Cause", str(cause or 16))])
        parent = ch.dial_parent
        self._finish(ch, cause, tech_cause=tech_cause)
        for leg in legs:
            # Dial (or Queue) hangs its ringing legs up without a request event (trace 21).
            self._hangup_quiet(leg, 0)
        for peer in peers:
            self._hangup_quiet(peer, cause or 16)
        if parent is not None and not parent.hung and ch in parent.dial_legs:
            parent.dial_legs.remove(ch)
            status = "BUSY" if cause == 17 else "CHANUNAVAIL" if cause in (0, 1) else "NOANSWER"
            self.dial_event("DialEnd", parent, ch, [("DialStatus", status)])
            if not parent.dial_legs and parent.queue is None:
                if parent.dial_timer is not None:
                    parent.dial_timer.cancel()
                self.varset(parent, "DIALSTATUS", status)
                if parent.after_dial is not None:
                    parent.after_dial(parent, status)
            elif not parent.dial_legs and parent.queue is not None:
                if parent.dial_timer is not None:
                    parent.dial_timer.cancel()
                self.later(parent, self.queues[parent.queue].retry, self.queue_kick)
        if ch.originate is not None and ch.state != UP:
            self._originate_failed_after(ch, cause)

    def _hangup_quiet(self, ch: Channel, cause: int) -> None:
        """The rest of a hangup whose (Soft)HangupRequest is already out (or never comes)."""
        if ch.hung:
            return
        ch.hung = True
        for timer in ch.timers:
            timer.cancel()
        if ch.dial_timer is not None:
            ch.dial_timer.cancel()
        for leg in list(ch.dial_legs):
            ch.dial_legs.remove(leg)
            self.dial_event("DialEnd", ch, leg, [("DialStatus", "CANCEL")])
            self._hangup_quiet(leg, 0)
        if ch.spying is not None:
            self._spy_stop(ch)
        for spy in [c for c in self.channels.values() if c.spying is ch]:
            self._spy_stop(spy)
            self.hangup(spy, 16, soft=True)
        if ch.bridge is not None:
            bridge = self.bridge_leave(ch)
            if bridge is not None and not bridge.channels:
                self.destroy_bridge(bridge)
        self._finish(ch, cause)

    def _finish(self, ch: Channel, cause: int, *, tech_cause: bool = False) -> None:
        if ch.mixmonitor:
            ch.mixmonitor = False
            self.emit("MixMonitorStop", "call,all", channel_block(ch))
        tail: Headers = [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
        self.emit("Hangup", "call,all", [*channel_block(ch), *tail])
        self.channels.pop(ch.name, None)
        self.hangups += 1
        self.refresh(ch.endpoint)
        if ch.xfer_owner is not None and ch.name.endswith(";1"):
            self._consult_gone(ch)
        peer = ch.local_peer
        if peer is not None and not peer.hung:
            # One half of a Local channel gone: the other gets a queued hangup.
            self.hangup(peer, cause or 16)

    # ---------------------------------------------------------------- hold (from the phone)

    def hold(self, ch: Channel, on: bool) -> None:
        """A phone's re-INVITE sendonly: Hold on its own channel, music to the bridge peers."""
        if ch.bridge is None or ch.held == on:
            return
        ch.held = on
        if on:
            self.emit("Hold", "call,all", [*channel_block(ch), ("MusicClass", "default")])
        else:
            self.emit("Unhold", "call,all", channel_block(ch))
        for peer in ch.bridge.channels:
            if peer is ch:
                continue
            if on:
                self.emit("MusicOnHoldStart", "call,all", [*channel_block(peer), ("Class", "default")])
            else:
                self.emit("MusicOnHoldStop", "call,all", channel_block(peer))
            self.refresh(peer.endpoint)

    # ---------------------------------------------------------------- queues

    def queue_join(self, ch: Channel, name: str) -> None:
        q = self.queues[name]
        q.callers.append(ch)
        ch.queue = name
        ch.queue_joined = time.time()
        self.emit(
            "QueueCallerJoin",
            "agent,all",
            [
                *channel_block(ch),
                ("Queue", name),
                ("Position", str(len(q.callers))),
                ("Count", str(len(q.callers))),
            ],
        )
        self.emit("MusicOnHoldStart", "call,all", [*channel_block(ch), ("Class", "default")])
        self.later(ch, q.max_wait, lambda: self._queue_timeout(ch))
        self.queue_kick()

    def _queue_leave(self, ch: Channel) -> None:
        q = self.queues[ch.queue or ""]
        pos = q.callers.index(ch) + 1
        q.callers.remove(ch)
        ch.queue = None
        self.emit(
            "QueueCallerLeave",
            "agent,all",
            [*channel_block(ch), ("Queue", q.name), ("Position", str(pos)), ("Count", str(len(q.callers)))],
        )

    def _queue_timeout(self, ch: Channel) -> None:
        if ch.queue is None:
            return
        for leg in list(ch.dial_legs):
            ch.dial_legs.remove(leg)
            self.dial_event("DialEnd", ch, leg, [("DialStatus", "CANCEL")])
            self.hangup(leg, 0, soft=True)
        self.emit("MusicOnHoldStop", "call,all", channel_block(ch))
        self._queue_leave(ch)
        ch.priority = 4
        self.newexten(ch, "Hangup", "")
        self.hangup(ch, 16, soft=True)

    def _member_free(self, q: QueueState, m: QueueMember) -> bool:
        busy = {leg.endpoint for c in q.callers for leg in c.dial_legs}
        return (
            not m.paused
            and m.ext in self.registered
            and not self.endpoint_channels(m.ext)
            and m.ext not in busy
        )

    def queue_kick(self) -> None:
        """ringall: ring every free member for the first caller that is not ringing anyone."""
        with self.lock:
            for q in self.queues.values():
                for caller in list(q.callers):
                    if caller.hung or caller.dial_legs:
                        continue
                    free = [m for m in q.members.values() if self._member_free(q, m)]
                    if not free:
                        break
                    for m in free:
                        leg = self._ring_leg(caller, m.ext, m.ext, queue=q.name)
                        caller.dial_legs.append(leg)
                    caller.dial_timer = self.later(
                        caller, q.timeout, lambda c=caller, qq=q: self._queue_ring_timeout(c, qq)
                    )
                    if q.strategy == "ringall":
                        break

    def _queue_ring_timeout(self, caller: Channel, q: QueueState) -> None:
        legs = list(caller.dial_legs)
        caller.dial_legs.clear()
        for leg in legs:
            self.dial_event("DialEnd", caller, leg, [("DialStatus", "NOANSWER")])
            self.hangup(leg, 0, soft=True)
        self.later(caller, q.retry, self.queue_kick)

    def queue_pause(self, name: str | None, interface: str, paused: bool, reason: str) -> None:
        ext = interface.split("/", 1)[-1]
        targets = [q for q in self.queues.values() if (name is None or q.name == name) and ext in q.members]
        if not targets or not interface.startswith("PJSIP/"):
            raise SimError("Interface not found")
        for q in targets:
            m = q.members[ext]
            m.paused = paused
            m.reason = reason if paused else ""
            m.last_pause = int(time.time()) if paused else m.last_pause
            self.emit("QueueMemberPause", "agent,all", queue_member_block(q.name, m))
        if not paused:
            self.queue_kick()

    def queue_add(self, name: str, interface: str, member_name: str, paused: bool) -> None:
        q = self.queues.get(name)
        if q is None:
            raise SimError("Unable to add interface to queue: No such queue")
        ext = interface.split("/", 1)[-1]
        if ext in q.members:
            raise SimError("Unable to add interface: Already there")
        m = QueueMember(ext, member_name or interface, "dynamic", paused=paused)
        m.status = DEV_NUM.get(self._device_state(ext), 1)
        q.members[ext] = m
        self.emit("QueueMemberAdded", "agent,all", queue_member_block(name, m))
        self.queue_kick()

    def queue_remove(self, name: str, interface: str) -> None:
        q = self.queues.get(name)
        if q is None:
            raise SimError("Unable to remove interface from queue: No such queue")
        ext = interface.split("/", 1)[-1]
        m = q.members.get(ext)
        if m is None:
            raise SimError("Unable to remove interface: Not there")
        if m.membership == "static":
            raise SimError("Member not dynamic")
        del q.members[ext]
        self.emit("QueueMemberRemoved", "agent,all", queue_member_block(name, m))

    # ---------------------------------------------------------------- parking

    def _parked_headers(self, ch: Channel, *, privilege: bool = True) -> Headers:
        return [
            *channel_block(ch, "Parkee"),
            ("ParkerDialString", ch.parker),
            ("Parkinglot", self.layout.parking_lot),
            ("ParkingSpace", ch.parked_slot or ""),
            ("ParkingTimeout", str(max(0, int(self.layout.parking_time - (time.time() - ch.queue_joined))))),
            ("ParkingDuration", str(int(time.time() - ch.queue_joined))),
        ]

    def park(self, ch: Channel, timeout_channel: Channel | None) -> str:
        """AMI Park: the parkee moves to the lot's holding bridge, the parker is hung up."""
        lay = self.layout
        free = next(
            (str(s) for s in range(lay.park_slots[0], lay.park_slots[1] + 1) if str(s) not in self.parking),
            None,
        )
        if free is None:
            raise SimError("Parking lot is full")  # not captured; plausible text
        old = ch.bridge
        parker = timeout_channel
        if parker is None and old is not None:
            parker = next((c for c in old.channels if c is not ch), None)
        ch.parked_slot = free
        ch.parker = f"PJSIP/{parker.endpoint}" if parker is not None else ""
        ch.queue_joined = time.time()  # reused as "parked since"
        self.parking[free] = ch
        self.emit("ParkedCall", "call,all", self._parked_headers(ch))
        if old is not None:
            self.bridge_leave(ch)
        if self.parking_bridge is None:
            self.parking_bridge = self._new_bridge(
                type="parking", technology="holding_bridge", creator="Parking", name=lay.parking_lot
            )
        ch.app, ch.app_data = "Park", ""
        self.bridge_enter(self.parking_bridge, ch)
        self.emit("MusicOnHoldStart", "call,all", [*channel_block(ch), ("Class", "default")])
        if old is not None:
            for other in list(old.channels):
                self.bridge_leave(other)
                self.destroy_bridge(old) if not old.channels else None
                self._hangup_quiet(other, 16)
            if old.uniqueid in self.bridges and not old.channels:
                self.destroy_bridge(old)
        self.later(ch, lay.parking_time, lambda: self._park_timeout(ch))
        return free

    def _unpark(self, ch: Channel) -> None:
        if ch.parked_slot is not None:
            self.parking.pop(ch.parked_slot, None)
            ch.parked_slot = None
        if ch.bridge is self.parking_bridge:
            self.bridge_leave(ch)

    def _park_timeout(self, ch: Channel) -> None:
        """comebacktoorigin=yes: the parked call rings the phone that parked it."""
        if ch.parked_slot is None:
            return
        self.emit("ParkedCallTimeOut", "call,all", self._parked_headers(ch))
        self.emit("MusicOnHoldStop", "call,all", channel_block(ch))
        parker = ch.parker.split("/", 1)[-1]
        self._unpark(ch)
        if parker in self.layout.extensions:
            ch.context, ch.exten, ch.priority = "park-dial", f"PJSIP/{parker}", 1
            self.newexten(ch, "Dial", f"PJSIP/{parker},20")
            self.dial(
                ch, parker, parker, self.layout.dial_timeout, after=lambda c, s: self.hangup(c, 16, soft=True)
            )
        else:
            self.hangup(ch, 16, soft=True)

    def parked_call_app(self, ch: Channel, slot: str) -> None:
        """ParkedCall(default,<slot>) — the retriever takes the parked call into a new bridge."""
        ch.context, ch.exten, ch.priority = "internal", slot, 1
        self.newexten(ch, "ParkedCall", f"{self.layout.parking_lot},{slot}")
        parkee = self.parking.get(slot)
        if ch.state != UP:
            self.set_state(ch, UP)
        if parkee is None:
            return self.hangup(ch, 16, soft=True)
        bridge = self._new_bridge()
        self.emit("MusicOnHoldStop", "call,all", channel_block(parkee))
        self.emit(
            "UnParkedCall",
            "call,all",
            [
                *channel_block(parkee, "Parkee"),
                *channel_block(ch, "Retriever"),
                ("ParkerDialString", parkee.parker),
                ("Parkinglot", self.layout.parking_lot),
                ("ParkingSpace", slot),
                (
                    "ParkingTimeout",
                    str(max(0, int(self.layout.parking_time - (time.time() - parkee.queue_joined)))),
                ),
                ("ParkingDuration", str(int(time.time() - parkee.queue_joined))),
            ],
        )
        for timer in parkee.timers:
            timer.cancel()
        parkee.timers.clear()
        self._unpark(parkee)
        ch.linkedid = parkee.linkedid
        self.bridge_enter(bridge, parkee)
        self.bridge_enter(bridge, ch)
        return None

    # ---------------------------------------------------------------- Originate

    def originate(
        self,
        *,
        channel: str,
        action_id: str,
        emit_response: Callable[[Headers], None],
        context: str,
        exten: str,
        priority: str,
        application: str,
        data: str,
        caller_id: tuple[str, str],
        timeout_ms: int,
    ) -> None:
        """Async Originate, after "Originate successfully queued": ring the phone first."""
        tech, _, resource = channel.partition("/")
        target: dict[str, object] = {
            "action_id": action_id,
            "respond": emit_response,
            "context": context,
            "exten": exten,
            "priority": priority,
            "application": application,
            "data": data,
            "channel": channel,
        }
        if tech != "PJSIP" or resource not in self.registered:
            self._originate_response(target, None, "Failure", "0")
            return
        ext = resource
        busy = self.phone_busy(ext)
        leg = self.new_channel(
            ext,
            state=DOWN,
            cid_num=ext,
            cid_name=self.layout.names.get(ext, ext),
            context="internal",
            exten="s",
        )
        leg.originate = target
        self.newexten(leg, "AppDial2", "(Outgoing Line)")
        num, name = caller_id
        self.emit(
            "NewCallerid",
            "call,all",
            [*channel_block(leg), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
        )
        self.connected(leg, num or UNKNOWN, name or UNKNOWN)
        self.dial_event("DialBegin", None, leg, [("DialString", ext)])
        if busy:
            # 486 Busy Here from a phone on a call: OriginateResponse Failure, Reason 5.
            self.dial_event("DialEnd", None, leg, [("DialStatus", "BUSY")])
            return self.hangup(leg, 17)
        self.set_state(leg, RINGING)
        self.dial_event("DialState", None, leg, [("DialStatus", "RINGING")])
        self.later(leg, self.answer_delay, lambda: self.answer_channel(leg))
        self.later(leg, timeout_ms / 1000.0, lambda: self._originate_timeout(leg))

    def _originate_response(
        self, target: dict[str, object], leg: Channel | None, response: str, reason: str
    ) -> None:
        headers: Headers = [
            ("ActionID", str(target["action_id"])),
            ("Response", response),
            ("Channel", leg.name if leg and response == "Success" else str(target["channel"])),
        ]
        if target["application"]:
            headers += [("Application", str(target["application"])), ("Data", str(target["data"]))]
        else:
            headers += [("Context", str(target["context"])), ("Exten", str(target["exten"]))]
        headers += [
            ("Reason", reason),
            ("Uniqueid", leg.uniqueid if leg is not None else UNKNOWN),
            ("CallerIDNum", leg.cid_num if leg is not None else UNKNOWN),
            ("CallerIDName", leg.cid_name if leg is not None else UNKNOWN),
        ]
        self.emit("OriginateResponse", "call,all", headers)

    def _originate_timeout(self, leg: Channel) -> None:
        if leg.state != UP:
            self.hangup(leg, 19, soft=True)

    def _originate_failed_after(self, leg: Channel, cause: int) -> None:
        target = leg.originate
        leg.originate = None
        if target is not None:
            reason = "3" if cause == 19 else "5" if cause == 17 else "1"
            self._originate_response(target, None, "Failure", reason)

    def _originate_answered(self, leg: Channel) -> None:
        target = leg.originate or {}
        leg.originate = None
        app = str(target.get("application") or "")
        # The three orders the captures show: exten (11, 07), ChanSpy (12), PickupChan (17).
        if app == "PickupChan":
            self._originate_response(target, leg, "Success", "4")
            self.set_state(leg, UP)
            self.dial_event("DialEnd", None, leg, [("DialStatus", "ANSWER")])
        elif app:
            self.set_state(leg, UP)
            self.dial_event("DialEnd", None, leg, [("DialStatus", "ANSWER")])
            self._originate_response(target, leg, "Success", "4")
        else:
            self.set_state(leg, UP)
            self._originate_response(target, leg, "Success", "4")
            self.dial_event("DialEnd", None, leg, [("DialStatus", "ANSWER")])
        if app:
            return self.run_application(leg, app, str(target.get("data") or ""))
        ctx = str(target.get("context") or "internal")
        prio = str(target.get("priority") or "1")
        return self.run_dialplan(
            leg, ctx, str(target.get("exten") or "s"), int(prio) if prio.isdigit() else 1
        )

    def run_application(self, ch: Channel, app: str, data: str) -> None:
        ch.app, ch.app_data = app, data
        if app == "ChanSpy":
            return self._chanspy(ch, data)
        if app == "PickupChan":
            return self._pickup(ch, data)
        if app in ("Park",):
            return self.hangup(ch, 16, soft=True)
        # Echo, Playback, MusicOnHold …: the channel stays up until someone hangs up.
        return None

    # ---------------------------------------------------------------- ChanSpy / PickupChan

    def _chanspy(self, spyer: Channel, data: str) -> None:
        prefix, _, options = data.partition(",")
        spyee = next(
            (
                c
                for c in self.channels.values()
                if c.name.startswith(prefix) and c is not spyer and not c.hung and c.state == UP
            ),
            None,
        )
        if spyee is None:
            return self.hangup(spyer, 16, soft=True)
        spyer.spying = spyee
        spyer.spy_mode = "barge" if "B" in options else "whisper" if "w" in options else "listen"
        self.emit(
            "ChanSpyStart", "call,all", [*channel_block(spyer, "Spyer"), *channel_block(spyee, "Spyee")]
        )
        return None

    def _spy_stop(self, spyer: Channel) -> None:
        spyee = spyer.spying
        spyer.spying = None
        if spyee is not None:
            self.emit(
                "ChanSpyStop", "call,all", [*channel_block(spyer, "Spyer"), *channel_block(spyee, "Spyee")]
            )

    def _pickup(self, picker: Channel, data: str) -> None:
        target = next(
            (
                c
                for c in self.channels.values()
                if c.name.startswith(data + "-") and c.state == RINGING and c.dial_parent is not None
            ),
            None,
        )
        if target is None:
            return self.hangup(picker, 16, soft=True)
        parent = target.dial_parent
        assert parent is not None
        self.emit("Pickup", "call,all", [*channel_block(picker), *channel_block(target, "Target")])
        if parent.dial_timer is not None:
            parent.dial_timer.cancel()
        self.dial_event("DialEnd", parent, picker, [("DialStatus", "ANSWER")])
        parent.dial_legs.remove(target)
        others = list(parent.dial_legs)
        parent.dial_legs.clear()
        for other in others:
            self.dial_event("DialEnd", parent, other, [("DialStatus", "CANCEL")])
        if parent.queue is not None:
            self.emit("MusicOnHoldStop", "call,all", channel_block(parent))
            self._queue_leave(parent)
        if parent.state != UP:
            self.set_state(parent, UP)
        target.dial_parent = None
        self.hangup(target, 26, soft=True)
        for other in others:
            self.hangup(other, 26, soft=True)
        bridge = self._new_bridge()
        picker.linkedid = parent.linkedid
        self.bridge_enter(bridge, picker)
        self.bridge_enter(bridge, parent)
        return None

    # ---------------------------------------------------------------- Redirect / transfers

    def detach(self, ch: Channel, keep: set[Channel] | None = None) -> None:
        """Take ch out of whatever holds it (bridge, queue, parking, Dial) before a new dialplan
        location; a lone bridge peer that is not redirected too is hung up, as Asterisk does."""
        keep = keep or set()
        for timer in ch.timers:
            timer.cancel()
        ch.timers.clear()
        for leg in list(ch.dial_legs):
            ch.dial_legs.remove(leg)
            self.dial_event("DialEnd", ch, leg, [("DialStatus", "CANCEL")])
            self.hangup(leg, 0, soft=True)
        if ch.queue is not None:
            self.emit("MusicOnHoldStop", "call,all", channel_block(ch))
            self._queue_leave(ch)
        if ch.parked_slot is not None:
            self.emit("MusicOnHoldStop", "call,all", channel_block(ch))
            self._unpark(ch)
            return
        if ch.spying is not None:
            self._spy_stop(ch)
        bridge = ch.bridge
        if bridge is None:
            return
        ch.held = False
        self.bridge_leave(ch)
        if len(bridge.channels) == 1 and bridge.type == "basic":
            peer = bridge.channels[0]
            self.bridge_leave(peer)
            self.destroy_bridge(bridge)
            if peer not in keep:
                self._hangup_quiet(peer, 16)
        elif not bridge.channels:
            self.destroy_bridge(bridge)

    def redirect(
        self,
        ch: Channel,
        context: str,
        exten: str,
        priority: int,
        extra: Channel | None,
        extra_target: tuple[str, str, int] | None,
    ) -> None:
        keep = {extra} if extra is not None else set()
        self.detach(ch, keep)
        if extra is not None and not extra.hung:
            self.detach(extra, {ch})
        self.run_dialplan(ch, context, exten, priority)
        if extra is not None and not extra.hung and extra_target is not None:
            self.run_dialplan(extra, *extra_target)

    def blind_transfer(self, transferer: Channel, context: str, exten: str, *, refer: bool = False) -> None:
        """AMI BlindTransfer (trace 09) or the phone's own REFER (trace 18, `refer=True`): the
        two differ only in when the transferee's BridgeLeave comes out."""
        bridge = transferer.bridge
        if bridge is None:
            raise SimError("No such channel")  # not bridged: nothing to transfer
        transferees = [c for c in bridge.channels if c is not transferer]
        self.emit("Unhold", "call,all", channel_block(transferer))
        transferer.held = False
        first = transferees[0] if transferees else transferer
        if refer:
            for t in transferees:
                t.exten = exten
                self.bridge_leave(t)
        self.emit(
            "BlindTransfer",
            "call,all",
            [
                ("Result", "Success"),
                *channel_block(transferer, "Transferer"),
                *channel_block(first, "Transferee"),
                *bridge_block(bridge),
                ("IsExternal", "Yes"),
                ("Context", context),
                ("Extension", exten),
            ],
        )
        self.bridge_leave(transferer)
        for t in transferees if not refer else []:
            t.exten = exten
            self.bridge_leave(t)
        self.destroy_bridge(bridge)
        self._hangup_quiet(transferer, 16)
        for t in transferees:
            self.run_dialplan(t, context, exten)

    # ---------------------------------------------------------------- attended transfer

    def atxfer(self, transferer: Channel, context: str, exten: str) -> None:
        """Atxfer queues the `*2` feature code: hold, then a Local channel pair dials the target.

        The transferer leaving (its phone hangs up, or an AMI Hangup) completes the transfer,
        answered or still ringing (trace 10); CancelAtxfer, or the consultation ending (the
        target hangs up, declines, ...), brings the transferer back to its caller.
        """
        b1 = transferer.bridge
        if b1 is None:
            raise SimError("Channel specified does not exist")
        for digit in "*2":
            self._dtmf(transferer, digit)
        transferer.held = True
        self.emit("Hold", "call,all", channel_block(transferer))
        for peer in b1.channels:
            if peer is not transferer:
                self.emit("MusicOnHoldStart", "call,all", [*channel_block(peer), ("Class", "default")])
        for digit in exten:
            self._dtmf(transferer, digit)
        n = next(self._local_seq)
        base = f"Local/{exten}@{context}-{n:08x}"
        one = self.new_channel(
            "",
            state=DOWN,
            cid_num=transferer.cid_num,
            cid_name=transferer.cid_name,
            context=context,
            exten=exten,
            linkedid=transferer.linkedid,
            name=f"{base};1",
        )
        two = self.new_channel(
            "",
            state=RING,
            cid_num=transferer.cid_num,
            cid_name=transferer.cid_name,
            context=context,
            exten=exten,
            linkedid=transferer.linkedid,
            name=f"{base};2",
        )
        one.local_peer, two.local_peer = two, one
        b2 = self._new_bridge()
        self.emit(
            "LocalBridge",
            "call,all",
            [
                *channel_block(one, "LocalOne"),
                *channel_block(two, "LocalTwo"),
                ("Context", context),
                ("Exten", exten),
                ("LocalOptimization", "Yes"),
            ],
        )
        self.bridge_enter(b2, one)
        transferer.atxfer = {"b1": b1, "b2": b2, "one": one, "two": two}
        one.xfer_owner = two.xfer_owner = transferer
        self.bridge_leave(transferer)
        self.bridge_enter(b2, transferer)
        transferer.held = False
        self.run_dialplan(two, context, exten)
        if two.dial_legs and not one.hung and one.state != UP:
            self.set_state(one, RINGING)
            self.dial_event("DialState", None, one, [("DialStatus", "RINGING")])

    def _dtmf(self, ch: Channel, digit: str) -> None:
        self.emit(
            "DTMFEnd",
            "dtmf,all",
            [*channel_block(ch), ("Digit", digit), ("DurationMs", "120"), ("Direction", "Received")],
        )

    @staticmethod
    def _xfer_parts(transferer: Channel) -> tuple[Bridge, Bridge, Channel, Channel]:
        info = transferer.atxfer
        assert info is not None
        b1, b2, one, two = info["b1"], info["b2"], info["one"], info["two"]
        assert (
            isinstance(b1, Bridge)
            and isinstance(b2, Bridge)
            and isinstance(one, Channel)
            and isinstance(two, Channel)
        )
        return b1, b2, one, two

    def complete_atxfer(self, transferer: Channel, *, soft: bool = False, cause: int = 16) -> None:
        """The transferer leaves during the consultation: the caller's bridge takes the Local ;1
        in the transferer's place (BridgeMerge, AttendedTransfer to that bridge, trace 10).

        Answered: the Local pair optimises away and the target joins the caller at once. Still
        ringing ("blond" transfer): the caller hears the target ring and is bridged with it
        when it answers; if it never does, the target's dialplan goes on (voicemail) with the
        caller. `soft`: an AMI Hangup (SoftHangupRequest, trace 15) rather than the phone's BYE.
        """
        b1, b2, one, two = self._xfer_parts(transferer)
        transferer.atxfer = None
        one.xfer_owner = two.xfer_owner = None
        transferer.hung = True
        for timer in transferer.timers:
            timer.cancel()
        transferer.timers.clear()
        self.emit(
            "SoftHangupRequest" if soft else "HangupRequest",
            "call,all",
            [*channel_block(transferer), ("Cause", str(cause or 16))],
        )
        for spy in [c for c in self.channels.values() if c.spying is transferer]:
            self._spy_stop(spy)
            self.hangup(spy, 16, soft=True)
        self.emit("BridgeMerge", "call,all", [*bridge_block(b1, "To"), *bridge_block(b2, "From")])
        transferees = list(b1.channels)
        self.bridge_leave(one)
        self.bridge_enter(b1, one)
        self.bridge_leave(transferer)
        for t in transferees:
            self.emit("MusicOnHoldStop", "call,all", channel_block(t))
        t0 = transferees[0] if transferees else one
        self.emit(
            "AttendedTransfer",
            "call,all",
            [
                ("Result", "Success"),
                *channel_block(transferer, "OrigTransferer"),
                *bridge_block(b1, "Orig"),
                *channel_block(transferer, "SecondTransferer"),
                *bridge_block(b2, "Second"),
                *channel_block(t0, "Transferee"),
                *channel_block(one, "TransferTarget"),
                ("IsExternal", "Yes"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", b1.uniqueid),
            ],
        )
        self.destroy_bridge(b2)
        transferer.held = False
        self._finish(transferer, cause or 16)
        one.transferred = True
        if one.state == UP and two.bridge is not None:
            self._local_optimize(one, two)

    def _local_optimize(self, one: Channel, two: Channel) -> None:
        """Local channel optimisation: the real target takes ;1's place in the caller's bridge,
        the Local pair hangs up (trace 10)."""
        b1, b3 = one.bridge, two.bridge
        target = next((c for c in (b3.channels if b3 else []) if c is not two), None)
        if target is None or b1 is None or b3 is None:
            return
        one.transferred = False
        oid = str(next(self._local_seq))
        self.emit(
            "LocalOptimizationBegin",
            "call,all",
            [
                *channel_block(one, "LocalOne"),
                *channel_block(two, "LocalTwo"),
                *channel_block(target, "Source"),
                ("DestUniqueId", one.uniqueid),
                ("Id", oid),
            ],
        )
        self.bridge_leave(target)
        self.bridge_leave(one)
        self.bridge_enter(b1, target, swap=one.uniqueid)
        self.emit(
            "LocalOptimizationEnd",
            "call,all",
            [
                *channel_block(one, "LocalOne"),
                *channel_block(two, "LocalTwo"),
                ("Success", "Yes"),
                ("Id", oid),
            ],
        )
        self.bridge_leave(two)
        self.destroy_bridge(b3)
        self.emit("SoftHangupRequest", "call,all", [*channel_block(two), ("Cause", "16")])
        self.emit("HangupRequest", "call,all", [*channel_block(one), ("Cause", "16")])
        two.hung = one.hung = True
        for local in (two, one):
            for timer in local.timers:
                timer.cancel()
            local.timers.clear()
        self._finish(two, 16)
        self._finish(one, 16)

    def _drop_consult(self, one: Channel, two: Channel) -> None:
        """End the consultation: ;1 leaves the transferer's bridge and is hung up (it was
        imparted: no request event); its hangup reaches ;2 as a HangupRequest, and ;2's Dial
        cancels the ringing target or its bridge with the target ends."""
        one.xfer_owner = two.xfer_owner = None
        if one.hung:
            if not two.hung:
                self.hangup(two, 16)
            return
        one.hung = True
        for timer in one.timers:
            timer.cancel()
        one.timers.clear()
        if one.bridge is not None:
            self.bridge_leave(one)
        self._finish(one, 16)  # the Local peer (;2) follows

    def _rebridge(self, transferer: Channel, b1: Bridge, b2: Bridge) -> None:
        """Back from the consultation to the held caller (bridge_basic's TRANSFER_REBRIDGE)."""
        if transferer.bridge is b2:
            self.bridge_leave(transferer)
        if not b2.channels:
            self.destroy_bridge(b2)
        transferer.held = False
        if transferer.hung or b1.uniqueid not in self.bridges:
            return
        self.bridge_enter(b1, transferer)
        self.emit("Unhold", "call,all", channel_block(transferer))
        for t in b1.channels:
            if t is not transferer:
                self.emit("MusicOnHoldStop", "call,all", channel_block(t))

    def cancel_atxfer(self, transferer: Channel) -> None:
        """CancelAtxfer (atxferabort): drop the consultation, back to the held caller."""
        if transferer.atxfer is None:
            raise SimError("No active transfer attempt")  # not captured
        b1, b2, one, two = self._xfer_parts(transferer)
        transferer.atxfer = None
        self._drop_consult(one, two)
        self._rebridge(transferer, b1, b2)

    def _consult_gone(self, one: Channel) -> None:
        """The consultation's ;1 hung up by itself (the target hung up or declined, ;2 left):
        the transferer goes back to its caller."""
        owner = one.xfer_owner
        one.xfer_owner = None
        if owner is None or owner.atxfer is None or owner.atxfer.get("one") is not one:
            return
        b1, b2, _, two = self._xfer_parts(owner)
        owner.atxfer = None
        two.xfer_owner = None
        self._rebridge(owner, b1, b2)

    def _transferee_gone(self, bridge: Bridge) -> None:
        """The caller's bridge ended during a consultation: transferer and target stay together."""
        for ch in list(self.channels.values()):
            if ch.atxfer is not None and ch.atxfer.get("b1") is bridge:
                _, _, one, two = self._xfer_parts(ch)
                ch.atxfer = None
                one.xfer_owner = two.xfer_owner = None

    def _atxfer_hangup(self, ch: Channel) -> None:
        """The transferer goes without completing (PBX shutdown): the consultation ends too."""
        if ch.atxfer is None:
            return
        _, b2, one, two = self._xfer_parts(ch)
        ch.atxfer = None
        self._drop_consult(one, two)
        if ch.bridge is b2:
            self.bridge_leave(ch)
        if not b2.channels:
            self.destroy_bridge(b2)

    # ---------------------------------------------------------------- shutdown

    def shutdown(self) -> None:
        """`core restart now`: every channel is hung up, then `Shutdown` (trace 26a)."""
        self._shutting_down = True
        try:
            for ch in list(self.channels.values()):
                if not ch.hung:
                    self.hangup(ch, 16, soft=True)
        finally:
            self._shutting_down = False
        self.emit("Shutdown", "system,all", [("Shutdown", "Cleanly"), ("Restart", "True")])
