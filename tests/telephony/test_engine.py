"""Focused tests of telephony.engine: order tolerance, idempotence, Rename, Local channels,
noise, garbage, tenancy isolation, Shutdown and resync buffering, timers and history."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from telephony.ami.framing import parse_stream
from telephony.engine import Delta, Engine, TenantMap
from telephony.engine.replay import REPLAY_EVENTS, REPLAY_TENANT, Replay, ReplayClock, tenant_map_for

TRACES = Path(__file__).resolve().parents[3] / "shared" / "ami-traces"
MAIN = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ev(name: str, **headers: str) -> dict[str, Any]:
    return {"Event": name, **headers}


def chan(name: str, uid: str, linkedid: str | None = None, state: int = 6, **more: str) -> dict[str, str]:
    return {
        "Channel": name,
        "Uniqueid": uid,
        "Linkedid": linkedid or uid,
        "ChannelState": str(state),
        "CallerIDNum": more.pop("num", name.partition("/")[2].rpartition("-")[0]),
        "Context": more.pop("ctx", "internal"),
        **more,
    }


def registered(engine: Engine, *names: str) -> None:
    for name in names:
        engine.feed(ev("DeviceStateChange", Device=f"PJSIP/{name}", State="NOT_INUSE"))


def talk(engine: Engine, bridge: str, a: dict[str, str], b: dict[str, str]) -> list[Delta]:
    """Two channels answered and bridged, the way Asterisk reports a connected call."""
    out = engine.feed(ev("Newchannel", **{**a, "ChannelState": "4"}))
    out += engine.feed(ev("Newchannel", **{**b, "ChannelState": "0"}))
    dest = {f"Dest{k}": v for k, v in b.items()}
    out += engine.feed(ev("DialBegin", **a, **dest, DialString=b["Channel"]))
    out += engine.feed(ev("Newstate", **{**b, "ChannelState": "6"}))
    out += engine.feed(ev("DialEnd", **a, **dest, DialStatus="ANSWER"))
    out += engine.feed(ev("Newstate", **{**a, "ChannelState": "6"}))
    out += engine.feed(ev("BridgeEnter", BridgeUniqueid=bridge, BridgeType="basic", **b))
    out += engine.feed(ev("BridgeEnter", BridgeUniqueid=bridge, BridgeType="basic", **a))
    return out


def users(*names: str, tenant: Any = "t") -> TenantMap:
    return TenantMap(endpoints=dict.fromkeys(names, tenant), default_tenant=tenant)


# --------------------------------------------------------------------------- captures, reordered


def _keys(frame: dict[str, Any]) -> set[str]:
    """What a frame is about; frames about the same thing keep their order when shuffled
    (Asterisk orders one channel's own events, not events of different channels)."""
    keys = set()
    for key, value in frame.items():
        if not isinstance(value, str):
            continue
        if key.endswith(("Uniqueid", "UniqueId")) or key.endswith("BridgeUniqueid"):
            keys.add(value)
        elif key in ("Device", "Peer", "Hint", "EndpointName", "Endpoint"):
            for part in value.split("&"):
                keys.add("ep:" + part.rpartition("/")[2].removeprefix("Custom:DND"))
        elif key in ("Queue", "ParkingSpace", "Interface"):
            keys.add(f"{key}:{value}")
    return keys


def _shuffle_across_channels(frames: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Random order within each run of live events between barriers (marks, responses, rows)."""
    out: list[dict[str, Any]] = []
    window: list[dict[str, Any]] = []

    def flush() -> None:
        pending = list(window)
        while pending:
            ready = []
            for i, frame in enumerate(pending):
                mine = _keys(frame)
                if not any(mine & _keys(earlier) for earlier in pending[:i]):
                    ready.append(i)
            out.append(pending.pop(rng.choice(ready)))
        window.clear()

    for frame in frames:
        if "ActionID" in frame or "Event" not in frame or frame["Event"] == "Shutdown":
            flush()
            out.append(frame)
        else:
            window.append(frame)
    flush()
    return out


def _encode(frames: list[dict[str, Any]]) -> bytes:
    lines = [b"Asterisk Call Manager/11.0.0\r\n"]
    for frame in frames:
        for key, value in frame.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key}: {item}\r\n".encode())
        lines.append(b"\r\n")
    return b"".join(lines)


def _replay_frames(tmp_path: Path, trace: Path, frames: list[dict[str, Any]]) -> tuple[Engine, Any]:
    path = tmp_path / trace.name
    path.write_bytes(_encode(frames))
    path.with_suffix(".actions").write_bytes(trace.with_suffix(".actions").read_bytes())
    clock = ReplayClock()
    engine = Engine(tenant_map_for([trace]), clock=clock)
    return engine, Replay(engine, clock=clock, rng=random.Random(1)).run_file(path)


ORDER_TRACES = sorted(p for p in TRACES.glob("*.ami") if p.stem[:2] not in ("25", "26"))


@pytest.mark.parametrize("trace", ORDER_TRACES, ids=lambda p: p.stem)
def test_marks_hold_when_channels_events_interleave_differently(tmp_path: Path, trace: Path) -> None:
    frames = parse_stream(trace.read_bytes(), wanted_events=REPLAY_EVENTS)
    shuffled = _shuffle_across_channels(frames, random.Random(trace.stem))
    assert sorted(map(repr, shuffled)) == sorted(map(repr, frames))
    engine, result = _replay_frames(tmp_path, trace, shuffled)
    assert result.marks and all(m.ok for m in result.marks), [(m.label, m.problems) for m in result.marks]
    assert engine.s.calls == {}


@pytest.mark.parametrize("trace", ORDER_TRACES, ids=lambda p: p.stem)
def test_every_event_twice_changes_nothing(tmp_path: Path, trace: Path) -> None:
    frames = parse_stream(trace.read_bytes(), wanted_events=REPLAY_EVENTS)
    doubled = [copy for frame in frames for copy in ((frame, frame) if "ActionID" not in frame else (frame,))]
    engine, result = _replay_frames(tmp_path, trace, doubled)
    assert result.marks and all(m.ok for m in result.marks), [(m.label, m.problems) for m in result.marks]
    ended = [d.summary for d in result.deltas if d.kind == "call_ended"]
    assert len({s["linkedid"] for s in ended if s}) == len(ended)  # each call ends once
    for summary in ended:
        assert summary is not None
        steps = [(t["kind"], t["by"], t["to"]) for t in summary["transfers"]]
        assert len(steps) == len(set(steps))


def test_a_repeated_frame_yields_no_delta() -> None:
    engine = Engine(users("1001", "1002"), clock=Clock())
    registered(engine, "1001", "1002")
    a = chan("PJSIP/1001-00000001", "1.1")
    b = chan("PJSIP/1002-00000002", "1.2", linkedid="1.1")
    talk(engine, "br-1", a, b)
    for frame in (
        ev("Newstate", **a),
        ev("BridgeEnter", BridgeUniqueid="br-1", BridgeType="basic", **a),
        ev("DeviceStateChange", Device="PJSIP/1001", State="INUSE"),
        ev("VarSet", **a, Variable="X", Value="1"),
        ev("DialState", **a, **{f"Dest{k}": v for k, v in b.items()}, DialStatus="RINGING"),
    ):
        assert engine.feed(frame) == []
    assert engine.colour("1001") == "dark-green"


# --------------------------------------------------------------------------- channels


def test_events_about_a_channel_that_hung_up_do_not_bring_it_back() -> None:
    engine = Engine(users("1001"), clock=Clock())
    registered(engine, "1001")
    a = chan("PJSIP/1001-00000001", "1.1", state=5)
    engine.feed(ev("Newchannel", **a))
    engine.feed(ev("Hangup", **a, Cause="16"))
    engine.feed(ev("Newstate", **a))  # late
    assert engine.s.channels == {} and engine.colour("1001") == "white"


def test_a_late_event_after_a_resync_does_not_resurrect_a_channel() -> None:
    engine = Engine(users("1001"), clock=Clock())
    registered(engine, "1001")
    a = chan("PJSIP/1001-00000001", "1.1", state=5)
    engine.feed(ev("Newchannel", **a))
    engine.feed(ev("Hangup", **a, Cause="16"))
    engine.begin_resync()
    engine.feed(ev("DeviceStateChange", ActionID="s", Device="PJSIP/1001", State="NOT_INUSE"))
    engine.end_resync()
    engine.feed(ev("Newstate", **a))
    assert engine.s.channels == {} and engine.colour("1001") == "white"


def test_rename_moves_the_channel_to_its_new_name_and_endpoint() -> None:
    engine = Engine(users("1001", "1002"), clock=Clock())
    registered(engine, "1001", "1002")
    engine.feed(ev("Newchannel", **chan("PJSIP/1001-00000001", "9.1", state=5)))
    assert engine.colour("1001") == "yellow"
    deltas = engine.feed(
        ev("Rename", Channel="PJSIP/1001-00000001", Newname="PJSIP/1002-00000007", Uniqueid="9.1")
    )
    assert engine.colour("1001") == "white" and engine.colour("1002") == "yellow"
    assert {(d.kind, d.key) for d in deltas} >= {("endpoint", "1001"), ("endpoint", "1002")}
    engine.feed(ev("Newstate", **chan("PJSIP/1002-00000007", "9.1", state=6)))
    assert engine.s.names == {"PJSIP/1002-00000007": "9.1"}


def test_a_call_through_local_channels_is_coloured_by_what_is_beyond_them() -> None:
    """1001 talks to Local;1 whose ;2 talks to the trunk: 1001 talks to the outside. After the
    optimisation swaps the Local pair out, nothing changes for 1001."""
    engine = Engine(users("1001"), clock=Clock())
    registered(engine, "1001")
    user = chan("PJSIP/1001-00000001", "5.1")
    one = chan("Local/900@out-00000000;1", "5.2", linkedid="5.1")
    two = chan("Local/900@out-00000000;2", "5.3", linkedid="5.1")
    trunk = chan("PJSIP/carrier-00000004", "5.4", linkedid="5.1", num="15550001111")
    for c in (user, one, two, trunk):
        engine.feed(ev("Newchannel", **c))
    engine.feed(ev("BridgeEnter", BridgeUniqueid="A", BridgeType="basic", **user))
    engine.feed(ev("BridgeEnter", BridgeUniqueid="A", BridgeType="basic", **one))
    engine.feed(ev("BridgeEnter", BridgeUniqueid="B", BridgeType="basic", **two))
    engine.feed(ev("Newstate", **{**trunk, "ChannelState": "5"}))
    engine.feed(ev("BridgeEnter", BridgeUniqueid="B", BridgeType="basic", **{**trunk, "ChannelState": "5"}))
    assert engine.colour("1001") == "yellow"  # the far side still rings
    engine.feed(ev("Newstate", **trunk))
    assert engine.colour("1001") == "light-green"
    local = {f"LocalOne{k}": v for k, v in one.items()} | {f"LocalTwo{k}": v for k, v in two.items()}
    engine.feed(ev("LocalOptimizationBegin", **local))
    engine.feed(ev("BridgeLeave", BridgeUniqueid="B", **trunk))
    engine.feed(ev("BridgeEnter", BridgeUniqueid="A", BridgeType="basic", SwapUniqueid="5.2", **trunk))
    assert engine.colour("1001") == "light-green"
    engine.feed(ev("LocalOptimizationEnd", **local, Success="Yes"))
    engine.feed(ev("Hangup", **two))
    engine.feed(ev("Hangup", **one))
    assert engine.colour("1001") == "light-green"
    (call,) = engine.tenant_view("t")["calls"].values()
    assert [p["kind"] for p in call["parties"]] == ["extension", "trunk"]
    assert call["direction"] == "outbound"


def test_hold_darkens_both_sides_and_only_while_in_that_conversation() -> None:
    engine = Engine(users("1001", "1002"), clock=Clock())
    registered(engine, "1001", "1002")
    a = chan("PJSIP/1001-00000001", "1.1")
    b = chan("PJSIP/1002-00000002", "1.2", linkedid="1.1")
    talk(engine, "br-1", a, b)
    engine.feed(ev("Hold", **a))
    assert engine.colour("1001") == engine.colour("1002") == "dark-grey"
    engine.feed(ev("BridgeLeave", BridgeUniqueid="br-1", **a))
    engine.feed(ev("BridgeEnter", BridgeUniqueid="br-2", BridgeType="basic", **a))
    assert engine.s.channels["1.1"].held is False
    engine.feed(ev("BridgeEnter", BridgeUniqueid="br-1", BridgeType="basic", **a))
    engine.feed(ev("Hold", **a))
    engine.feed(ev("Unhold", **a))
    assert engine.colour("1001") == engine.colour("1002") == "dark-green"


# --------------------------------------------------------------------------- noise and garbage


def test_unknown_events_and_foreign_user_events_are_ignored() -> None:
    engine = Engine(users("1001"), clock=Clock())
    registered(engine, "1001")
    before = engine.tenant_view("t")
    for frame in (
        ev("UserEvent", UserEvent="SomethingElse", Channel="PJSIP/1001-00000001", Uniqueid="1"),
        ev("UserEvent", UserEvent="SwitchboardMark", Label="x", Expect="1001=yellow"),
        ev("FutureEvent", Uniqueid="2", Channel="PJSIP/1001-2"),
        ev("VarSet", **chan("PJSIP/1001-00000001", "3")),
        {"Response": "Success", "ActionID": "x", "Message": "ok"},
    ):
        assert engine.feed(frame) == []
    assert engine.tenant_view("t") == before
    assert "UserEvent" not in Engine.WANTED_EVENTS and "VarSet" not in Engine.WANTED_EVENTS


GARBAGE: list[dict[str, Any]] = [
    {},
    {"Event": ""},
    {"Event": ["Newchannel", "Hangup"]},
    {"Event": "Newchannel"},
    {"Event": "Newchannel", "Uniqueid": "g1"},
    {"Event": "Newstate", "Channel": "PJSIP/1001-1", "Uniqueid": "g2", "ChannelState": "banana"},
    {"Event": "Newstate", "Channel": ["PJSIP/1001-1", "x"], "Uniqueid": "g3"},
    {"Event": "BridgeEnter", "BridgeUniqueid": "b", "Uniqueid": "nope"},
    {"Event": "BridgeMerge", "ToBridgeUniqueid": "x", "FromBridgeUniqueid": "x"},
    {"Event": "ParkedCall", "ParkingSpace": "701"},
    {"Event": "QueueMember", "Queue": "q"},
    {"Event": "QueueEntry", "Queue": "q", "Uniqueid": "g4", "Wait": "soon"},
    {"Event": "ExtensionStatus", "Hint": "PJSIP/1001&Custom:DND1001", "Status": "x"},
    {"Event": "DeviceStateChange", "Device": "Custom:DND", "State": "BUSY"},
    {"Event": "CoreShowChannel", "Channel": "PJSIP/1001-9", "Uniqueid": "g5", "Duration": "a:b"},
    {"Event": "Hangup", "Uniqueid": "never-seen"},
    {"Event": "Shutdown", "Uniqueid": ["a", "b"]},
]


def test_garbage_frames_never_raise_and_leave_the_engine_working() -> None:
    engine = Engine(users("1001", "1002"), clock=Clock())
    for frame in GARBAGE:
        engine.feed(frame)
    engine.begin_resync()
    for frame in GARBAGE:
        engine.feed({**frame, "ActionID": "r"})
    engine.end_resync()
    registered(engine, "1001", "1002")
    talk(
        engine, "br-1", chan("PJSIP/1001-00000001", "1.1"), chan("PJSIP/1002-00000002", "1.2", linkedid="1.1")
    )
    assert engine.colour("1001") == "dark-green"


# --------------------------------------------------------------------------- tenancy


ACME, GLOBEX = "acme", "globex"


def shared_pbx() -> tuple[Engine, list[Delta]]:
    tenants = TenantMap(
        endpoints={"acme-1001": ACME, "acme-1002": ACME, "globex-1001": GLOBEX, "globex-1002": GLOBEX},
        contexts={"from-acme": ACME, "from-globex": GLOBEX},
        prefixes={"acme-": ACME, "globex-": GLOBEX},
    )
    engine = Engine(tenants, clock=Clock())
    deltas: list[Delta] = []
    feed = deltas.extend
    for name in ("acme-1001", "acme-1002", "globex-1001", "globex-1002"):
        feed(engine.feed(ev("DeviceStateChange", Device=f"PJSIP/{name}", State="NOT_INUSE")))
    # acme: an outside caller (trunk channel, assigned through the inbound context) talks to acme-1001
    trunk_a = chan("PJSIP/carrier-00000001", "a.1", ctx="from-acme", num="15550001111")
    feed(talk(engine, "br-a", trunk_a, chan("PJSIP/acme-1001-00000002", "a.2", linkedid="a.1")))
    # globex: an internal call
    feed(
        talk(
            engine,
            "br-g",
            chan("PJSIP/globex-1001-03", "g.1"),
            chan("PJSIP/globex-1002-04", "g.2", linkedid="g.1"),
        )
    )
    # a trunk channel nobody can claim (unknown context, no assigned sibling): dropped
    feed(engine.feed(ev("Newchannel", **chan("PJSIP/carrier-00000009", "x.1", ctx="from-nowhere", state=4))))
    # queues and parking lots by name prefix
    waiting = chan("PJSIP/carrier-00000005", "a.5", ctx="from-acme", num="15550002222")
    feed(engine.feed(ev("Newchannel", **waiting)))
    feed(engine.feed(ev("QueueCallerJoin", **waiting, Queue="acme-support", Position="1", Count="1")))
    for queue, member in (("acme-support", "PJSIP/acme-1002"), ("globex-sales", "PJSIP/globex-1002")):
        feed(
            engine.feed(
                ev(
                    "QueueMemberAdded",
                    Queue=queue,
                    Interface=member,
                    MemberName=member,
                    Status="1",
                    Paused="0",
                )
            )
        )
    feed(engine.feed(ev("QueueMemberAdded", Queue="orphans", Interface="PJSIP/x", Status="1", Paused="0")))
    parked_g = chan("PJSIP/carrier-00000006", "g.6", ctx="from-globex", num="15550003333")
    feed(engine.feed(ev("Newchannel", **parked_g)))
    parkee = {f"Parkee{k}": v for k, v in parked_g.items()}
    feed(
        engine.feed(
            ev("ParkedCall", **parkee, Parkinglot="globex-lot", ParkingSpace="801", ParkingTimeout="45")
        )
    )
    return engine, deltas


def test_two_tenants_on_one_pbx_never_see_each_other() -> None:
    engine, deltas = shared_pbx()
    acme, globex = engine.tenant_view(ACME), engine.tenant_view(GLOBEX)
    assert set(acme["endpoints"]) == {"acme-1001", "acme-1002"}
    assert set(globex["endpoints"]) == {"globex-1001", "globex-1002"}
    assert set(acme["calls"]) == {"a.1", "a.5"} and set(globex["calls"]) == {"g.1", "g.6"}
    assert acme["parking"] == {} and set(globex["parking"]) == {"801"}
    assert set(acme["queues"]) == {"acme-support"} and set(globex["queues"]) == {"globex-sales"}
    assert "globex" not in json.dumps(acme) and "acme" not in json.dumps(globex)
    for view in (acme, globex):
        assert "x.1" not in view["calls"] and "orphans" not in view["queues"]
    assert engine.colour("acme-1001") == "light-green"  # the trunk leg is acme's, and outside
    # Deltas: each tenant's deltas name only its own things; nothing goes to nobody.
    assert {d.tenant_id for d in deltas} == {ACME, GLOBEX}
    for d in deltas:
        own = acme if d.tenant_id == ACME else globex
        other = globex if d.tenant_id == ACME else acme
        section = {"endpoint": "endpoints", "call": "calls", "parking": "parking", "queue": "queues"}[d.kind]
        assert d.key in own[section] and d.key not in other[section]


def test_a_call_ending_is_told_only_to_its_tenant() -> None:
    engine, _ = shared_pbx()
    deltas = engine.feed(ev("Hangup", **chan("PJSIP/globex-1002-04", "g.2", linkedid="g.1"), Cause="16"))
    deltas += engine.feed(ev("Hangup", **chan("PJSIP/globex-1001-03", "g.1"), Cause="16"))
    ended = [d for d in deltas if d.kind == "call_ended"]
    assert [(d.tenant_id, d.key) for d in ended] == [(GLOBEX, "g.1")]
    assert all(d.tenant_id == GLOBEX for d in deltas)


# --------------------------------------------------------------------------- lifecycle


def test_shutdown_ends_everything_until_the_next_resync() -> None:
    clock = Clock()
    engine = Engine(users("1001", "1002"), clock=clock)
    registered(engine, "1001", "1002")
    talk(
        engine, "br-1", chan("PJSIP/1001-00000001", "1.1"), chan("PJSIP/1002-00000002", "1.2", linkedid="1.1")
    )
    clock.now = 1060.0
    deltas = engine.feed(ev("Shutdown", Shutdown="Cleanly", Restart="True"))
    (ended,) = [d for d in deltas if d.kind == "call_ended"]
    assert ended.summary is not None and ended.summary["ended"] == 1060.0
    assert {(d.kind, d.key) for d in deltas} >= {("call", "1.1"), ("endpoint", "1001"), ("endpoint", "1002")}
    assert not engine.online
    view = engine.tenant_view("t")
    assert view["calls"] == {} and {e["colour"] for e in view["endpoints"].values()} == {"light-grey"}


def test_live_events_during_a_resync_wait_for_the_snapshot() -> None:
    engine = Engine(users("1001", "1002"), clock=Clock())
    engine.begin_resync(["s1", "s2"])
    live = ev("Newchannel", **chan("PJSIP/1002-00000003", "2.1", state=5))
    assert engine.feed(live) == []
    assert engine.feed(ev("DeviceStateChange", ActionID="s1", Device="PJSIP/1002", State="NOT_INUSE")) == []
    assert (
        engine.feed(ev("DeviceStateChange", ActionID="other", Device="PJSIP/1001", State="NOT_INUSE")) == []
    )
    row = ev("CoreShowChannel", ActionID="s2", **chan("PJSIP/1001-00000001", "1.1"), Duration="00:01:00")
    engine.feed(row)
    assert "2.1" not in engine.s.channels  # not yet: buffered
    deltas = engine.end_resync()
    assert engine.colour("1002") == "yellow"  # the row registered it, the buffered event rings it
    assert engine.colour("1001") == "dark-green"  # the other ActionID's row came after, as a live event
    assert engine.s.calls["1.1"].started == 1000.0 - 60
    assert {(d.kind, d.key) for d in deltas} >= {("endpoint", "1001"), ("endpoint", "1002"), ("call", "2.1")}


def test_the_spy_mode_comes_from_the_originate_the_product_sent() -> None:
    engine = Engine(users("1003", "1005"), clock=Clock())
    registered(engine, "1003", "1005")
    engine.note_originate("op-7", spy_mode="whisper", target="PJSIP/1003-00000001", channel="PJSIP/1005")
    spyer = chan("PJSIP/1005-00000009", "7.9")
    spyee = chan("PJSIP/1003-00000001", "7.1")
    engine.feed(ev("Newchannel", **spyee))
    engine.feed(ev("Newchannel", **spyer))
    # ChanSpyStart before OriginateResponse: matched by the spyer's endpoint
    engine.feed(
        ev(
            "ChanSpyStart",
            **{f"Spyer{k}": v for k, v in spyer.items()},
            **{f"Spyee{k}": v for k, v in spyee.items()},
        )
    )
    engine.feed(
        ev("OriginateResponse", ActionID="op-7", Response="Success", Channel=spyer["Channel"], Uniqueid="7.9")
    )
    parties = engine.tenant_view("t")["calls"]["7.9"]["parties"]
    assert (
        parties[0]["kind"] == "spy"
        and parties[0]["spy_mode"] == "whisper"
        and parties[0]["spying_on"] == "1003"
    )
    assert engine.colour("1005") == "dark-green"


def test_timers_and_history_of_a_blind_transfer() -> None:
    clock = Clock(100.0)
    engine = Engine(users("1001", "1004"), clock=clock)
    registered(engine, "1001", "1004")
    trunk = chan("PJSIP/carrier-00000001", "3.1", num="15550001111", ctx="from-carrier")
    agent = chan("PJSIP/1001-00000002", "3.2", linkedid="3.1")
    engine.feed(ev("Newchannel", **{**trunk, "ChannelState": "4"}))
    clock.now = 103.0
    talk(engine, "br-1", trunk, agent)
    clock.now = 110.0
    engine.feed(
        ev(
            "BlindTransfer",
            Result="Success",
            **{f"Transferer{k}": v for k, v in agent.items()},
            **{f"Transferee{k}": v for k, v in trunk.items()},
            Extension="1004",
        )
    )
    engine.feed(ev("Hangup", **agent, Cause="16"))
    target = chan("PJSIP/1004-00000003", "3.3", linkedid="3.1")
    engine.feed(ev("BridgeLeave", BridgeUniqueid="br-1", **trunk))
    talk(engine, "br-2", trunk, target)
    assert engine.colour("1004") == "light-green" and engine.colour("1001") == "white"
    clock.now = 130.0
    engine.feed(ev("Hangup", **target, Cause="16"))
    (ended,) = [d for d in engine.feed(ev("Hangup", **trunk, Cause="16")) if d.kind == "call_ended"]
    summary = ended.summary
    assert summary is not None
    assert summary["direction"] == "inbound" and summary["disposition"] == "answered"
    assert (summary["caller"], summary["callee"]) == ("15550001111", "1001")
    assert summary["parties"] == ["15550001111", "1001", "1004"]
    assert summary["transfers"] == [{"by": "1001", "to": "1004", "kind": "blind", "at": 110.0}]
    assert (summary["started"], summary["answered"], summary["ended"]) == (100.0, 103.0, 130.0)


def test_dnd_and_registration_follow_the_hint_and_the_contacts() -> None:
    engine = Engine(users("1002"), clock=Clock())
    engine.feed(
        ev("ContactStatus", URI="sip:a", ContactStatus="NonQualified", AOR="1002", EndpointName="1002")
    )
    assert engine.colour("1002") == "white"
    engine.feed(ev("ExtensionStatus", Hint="PJSIP/1002&Custom:DND1002", Status="2", StatusText="Busy"))
    assert engine.tenant_view("t")["endpoints"]["1002"]["dnd"] is True
    engine.feed(ev("DeviceStateChange", Device="Custom:DND1002", State="NOT_INUSE"))
    assert engine.tenant_view("t")["endpoints"]["1002"]["dnd"] is False
    engine.feed(ev("ContactStatus", URI="sip:a", ContactStatus="Removed", AOR="1002", EndpointName="1002"))
    assert engine.colour("1002") == "light-grey"


def test_the_engine_imports_without_django() -> None:
    code = (
        "import sys, telephony.engine, telephony.engine.replay; assert 'django' not in sys.modules, 'django'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=MAIN, check=True)


def test_replay_tenant_is_the_default_of_a_one_tenant_pbx() -> None:
    tenants = tenant_map_for([TRACES / "02-internal-call.ami"])
    assert tenants.default_tenant == REPLAY_TENANT
    assert set(tenants.endpoints) == {"1001", "1002", "1003", "1004", "1005", "1006"}
