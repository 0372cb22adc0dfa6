"""Testing aids: a plain blocking AMI socket client, and comparing streams with captures.

Used by the simulator's own tests; other tests that drive the simulator may use `Client` too.
"""

from __future__ import annotations

import itertools
import socket
import time
from pathlib import Path

from telephony.ami.framing import Frame, FrameParser, encode_action, parse_stream

TRACES = Path(__file__).resolve().parents[3] / "shared" / "ami-traces"  # beside the repo
CAPTURES = Path(__file__).resolve().parents[2] / "tests" / "telephony" / "captures"


class Client:
    """A blocking AMI client over a real TCP socket; keeps every frame it has read."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.parser = FrameParser()
        self.frames: list[Frame] = []
        self._ids = itertools.count(1)
        self.closed = False
        self.raw = bytearray()  # every byte read, banner included: a capture when written out
        self.sent: list[dict[str, object]] = []  # every action sent, as a `.actions` line

    def _pump(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        if not data:
            self.closed = True
            return
        self.raw.extend(data)
        self.frames.extend(self.parser.feed(data))

    def wait_for(self, predicate, timeout: float = 5.0) -> Frame:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            if self.closed or time.monotonic() > deadline:
                raise AssertionError(f"no matching frame; last frames: {self.frames[-5:]}")
            self._pump(0.2)

    def send(self, action: str, **headers: str | list[str]) -> str:
        action_id = headers.pop("ActionID", None) or f"t-{next(self._ids)}"  # type: ignore[assignment]
        pairs: list[tuple[str, str]] = []
        for key, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((key, item))
        pairs.append(("ActionID", str(action_id)))
        self.sent.append({"Action": action, **headers, "ActionID": str(action_id)})
        self.sock.sendall(encode_action(action, pairs))
        return str(action_id)

    def action(self, action: str, **headers: str | list[str]) -> Frame:
        action_id = self.send(action, **headers)
        return self.wait_for(lambda f: "Response" in f and f.get("ActionID") == action_id)

    def list_action(self, action: str, complete: str, **headers: str) -> tuple[Frame, list[Frame], Frame]:
        action_id = self.send(action, **headers)
        response = self.wait_for(lambda f: "Response" in f and f.get("ActionID") == action_id)
        end = self.wait_for(lambda f: f.get("Event") == complete and f.get("ActionID") == action_id)
        rows = [f for f in self.frames if f.get("ActionID") == action_id and "Event" in f and f is not end]
        return response, rows, end

    def login(self, secret: str = "panelsecret", events: str = "on") -> Frame:
        response = self.action("Login", Username="panel", Secret=secret, Events=events)
        if response.get("Response") == "Success" and events == "on":
            self.wait_for(lambda f: f.get("Event") == "FullyBooted")
        return response

    def mark(self, label: str, expect: str | None = None) -> None:
        """A UserEvent round trip: every event emitted before it has been read afterwards."""
        extra = {"Expect": expect} if expect is not None else {}
        self.send("UserEvent", UserEvent="SwitchboardMark", Label=label, **extra)
        self.wait_for(lambda f: f.get("Event") == "UserEvent" and f.get("Label") == label)

    def close(self) -> None:
        self.sock.close()


def trace_frames(name: str) -> list[Frame]:
    """A real capture by number ("02"), or one of ours by its file stem ("sim-01-…")."""
    path = CAPTURES / f"{name}.ami" if name.startswith("sim-") else next(TRACES.glob(f"{name}-*.ami"))
    return parse_stream(path.read_bytes())


def live_part(frames: list[Frame]) -> list[Frame]:
    """The events after the first mark (the snapshot and the login are compared elsewhere)."""
    start = next(i for i, f in enumerate(frames) if f.get("Event") == "UserEvent")
    return [f for f in frames[start + 1 :] if "Event" in f and f.get("Event") != "UserEvent"]


SIGNIFICANT = {
    "Newchannel",
    "Newstate",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "Hangup",
    "Hold",
    "Unhold",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "ParkedCall",
    "UnParkedCall",
    "ParkedCallGiveUp",
    "ParkedCallTimeOut",
    "BlindTransfer",
    "AttendedTransfer",
    "ChanSpyStart",
    "ChanSpyStop",
    "MixMonitorStart",
    "MixMonitorStop",
    "Pickup",
    "OriginateResponse",
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "PeerStatus",
    "ContactStatus",
    "ExtensionStatus",
}


def _role_namer():  # type: ignore[no-untyped-def]
    """Channel names → stable roles ("1001#0", "carrier#1", "Local#0;2") by first appearance."""
    roles: dict[str, str] = {}
    counts: dict[str, int] = {}

    def role(name: str) -> str:
        if not name:
            return ""
        if name not in roles:
            if name.startswith("Local/"):
                base, _, half = name.rpartition(";")
                key = "Local"
                if base + ";1" in roles or base + ";2" in roles:
                    other = roles.get(base + ";1") or roles.get(base + ";2") or ""
                    roles[name] = other.rsplit(";", 1)[0] + ";" + half
                    return roles[name]
            else:
                key = name.split("/", 1)[-1].rsplit("-", 1)[0] if "-" in name else name
            n = counts.get(key, 0)
            counts[key] = n + 1
            roles[name] = f"{key}#{n}" + (f";{name.rpartition(';')[2]}" if name.startswith("Local/") else "")
        return roles[name]

    return role


def per_party(frames: list[Frame]) -> dict[str, list[tuple[str, ...]]]:
    """The significant events of a stream, grouped by the party they concern, in order.

    Asterisk orders events per channel but interleaves channels by thread timing, so the
    comparison is per party: same events, same order, same key fields, ids ignored.
    """
    role = _role_namer()
    frames = _without_queue_music(frames)
    bridges: dict[str, str] = {}
    out: dict[str, list[tuple[str, ...]]] = {}
    last_status: dict[str, str] = {}
    for f in frames:
        name = str(f.get("Event"))
        if name not in SIGNIFICANT:
            continue
        if name == "ExtensionStatus":
            key = f"ext:{f.get('Exten')}"
            text = str(f.get("StatusText"))
            if last_status.get(key) == text:
                continue
            last_status[key] = text
            out.setdefault(key, []).append((name, text))
            continue
        if name.startswith("QueueMember"):
            out.setdefault(f"member:{f.get('Interface')}", []).append(
                (name, str(f.get("Paused")), str(f.get("PausedReason", "")))
            )
            continue
        if name in ("PeerStatus", "ContactStatus"):
            who = str(f.get("Peer") or f.get("AOR"))
            out.setdefault(f"peer:{who.split('/')[-1]}", []).append(
                (name, str(f.get("PeerStatus") or f.get("ContactStatus")))
            )
            continue
        main = str(
            f.get("Channel")
            or f.get("ParkeeChannel")
            or f.get("SpyerChannel")
            or f.get("TransfereeChannel")
            or f.get("DestChannel")
            or ""
        )
        if name == "OriginateResponse":
            # Sent by the originate thread, racing the channel's own events: 11, 12 and 17 show
            # three different orders, so it is compared in its own sequence.
            out.setdefault("originate", []).append((name, str(f.get("Response")), str(f.get("Reason"))))
            continue
        fields: list[str] = [name]
        if name in ("Newchannel", "Newstate"):
            fields.append(str(f.get("ChannelStateDesc")))
        if name in ("DialBegin", "DialEnd", "AgentCalled", "AgentConnect", "AgentComplete"):
            fields.append(role(str(f.get("DestChannel", ""))))
        if name == "DialEnd":
            fields.append(str(f.get("DialStatus")))
        if name in ("BridgeEnter", "BridgeLeave"):
            bid = str(f.get("BridgeUniqueid"))
            bridges.setdefault(bid, f"B{len(bridges)}")
            fields.append(bridges[bid])
        if name in ("Hold", "Unhold", "OriginateResponse"):
            fields.append(str(f.get("Response", "")))
        if name in ("ParkedCall", "UnParkedCall"):
            fields.append(str(f.get("ParkingSpace")))
        if name in ("ChanSpyStart", "ChanSpyStop"):
            fields.append(role(str(f.get("SpyeeChannel"))))
        if name in ("BlindTransfer", "AttendedTransfer"):
            fields.append(str(f.get("Result")))
        out.setdefault(role(main) if main else "originate-failure", []).append(tuple(fields))
    return out


def header_names(frames: list[Frame]) -> dict[str, set[tuple[str, ...]]]:
    names: dict[str, set[tuple[str, ...]]] = {}
    for f in frames:
        if "Event" in f:
            names.setdefault(str(f["Event"]), set()).add(tuple(k for k in f if k != "ActionID"))
    return names


def _without_queue_music(frames: list[Frame]) -> list[Frame]:
    """Drop hold music while a caller waits in a queue: the captures disagree (05 and 12 have
    it, 20, 21 and 22 — taken after a PBX restart — do not), so it asserts nothing."""
    waiting: set[str] = set()
    out: list[Frame] = []
    for f in frames:
        name, chan = f.get("Event"), str(f.get("Channel", ""))
        if name == "QueueCallerJoin":
            waiting.add(chan)
        elif name == "QueueCallerLeave":
            waiting.discard(chan)
        elif name in ("MusicOnHoldStart", "MusicOnHoldStop") and chan in waiting:
            continue
        out.append(f)
    return out
