"""The PBX simulator against the real Asterisk 22 captures, over real TCP sockets."""

from __future__ import annotations

import socket
import time

import pytest

from telephony.simulator import PbxLayout, Simulator
from telephony.simulator.testing import Client, header_names, live_part, per_party, trace_frames


@pytest.fixture
def sim():
    simulator = Simulator(layout=PbxLayout.demo(), answer_delay=None, seed=1, auth_fail_close=0.2)
    simulator.start(host="127.0.0.1", port=0)
    yield simulator
    simulator.stop()


def _keys(frame):
    return [k for k in frame if k != "ActionID"]


# ---------------------------------------------------------------- login, auth, robustness


def test_login_sequence_matches_the_capture(sim):
    real = trace_frames("02")
    client = Client(sim.port)
    response = client.action("Login", Username="panel", Secret="panelsecret", Events="on", ActionID="cap-1")
    booted = client.wait_for(lambda f: f.get("Event") == "FullyBooted")
    assert client.parser.banner == "11.0.0"
    assert response == real[0]
    assert _keys(booted) == _keys(real[1])
    assert booted["Status"] == "Fully Booted"
    assert client.frames.index(booted) == client.frames.index(response) + 1
    assert sim.received_actions[0]["Action"] == "Login"
    client.close()


def test_wrong_secret_fails_then_the_pbx_closes(sim):
    real = trace_frames("25")
    client = Client(sim.port)
    response = client.action("Login", Username="panel", Secret="wrong", ActionID="cap-1")
    assert (
        response == real[0] == {"Response": "Error", "ActionID": "cap-1", "Message": "Authentication failed"}
    )
    client.send("Ping")  # as in trace 25: no answer, then the socket closes
    with pytest.raises(AssertionError):
        client.wait_for(lambda f: f.get("Ping") == "Pong", timeout=3)
    assert client.closed


def test_actions_before_login_are_refused(sim):
    client = Client(sim.port)
    assert client.action("Ping") == {"Response": "Error", "ActionID": "t-1", "Message": "Permission denied"}
    client.close()


def test_events_off_receives_responses_only(sim, ami):
    quiet = Client(sim.port)
    assert quiet.login(events="off")["Response"] == "Success"
    sim.call("1001", "1002")
    ami.mark("after-call")
    assert quiet.action("Ping")["Ping"] == "Pong"
    assert not [f for f in quiet.frames if "Event" in f]
    quiet.close()


def test_garbage_does_not_break_the_server(sim, ami):
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    raw.sendall(
        b"\x00\xff\xfe garbage without colon\r\n\r\n: \r\nAction:\r\n\r\n" + b"X" * 200_000 + b"\r\n\r\n"
    )
    raw.sendall(
        b"Action: Login\r\nUsername: panel\r\nSecret: panelsecret\r\n\r\nAction: Ping\r\nActionID: p\r\n\r\n"
    )
    data = b""
    while b"Pong" not in data:
        chunk = raw.recv(65536)
        assert chunk, "server closed the connection on garbage"
        data += chunk
    assert b"Missing action in request" in data
    raw.close()
    assert ami.action("Ping")["Response"] == "Success"


def test_logoff_says_goodbye(ami):
    assert ami.action("Logoff") == {
        "Response": "Goodbye",
        "ActionID": "t-2",
        "Message": "Thanks for all the fish.",
    }


# ---------------------------------------------------------------- snapshot actions


SNAPSHOT = [
    ("PJSIPShowContacts", "ContactListComplete", "cap-2"),
    ("DeviceStateList", "DeviceStateListComplete", "cap-3"),
    ("ExtensionStateList", "ExtensionStateListComplete", "cap-4"),
    ("CoreShowChannels", "CoreShowChannelsComplete", "cap-5"),
    ("ParkedCalls", "ParkedCallsComplete", "cap-6"),
    ("QueueStatus", "QueueStatusComplete", "cap-7"),
]


@pytest.mark.parametrize(("action", "complete", "cap"), SNAPSHOT)
def test_snapshot_lists_answer_like_the_capture(ami, action, complete, cap):
    real = trace_frames("02")
    real_response = next(f for f in real if f.get("ActionID") == cap and "Response" in f)
    real_rows = [f for f in real if f.get("ActionID") == cap and "Event" in f and f["Event"] != complete]
    real_end = next(f for f in real if f.get("Event") == complete)
    response, rows, end = ami.list_action(action, complete, ActionID=cap)
    assert response == real_response
    assert _keys(end) == _keys(real_end)
    assert end["ListItems"] == str(len(rows))
    real_shapes = {(f["Event"], tuple(f)) for f in real_rows}
    assert {(f["Event"], tuple(f)) for f in rows} == real_shapes
    if action == "PJSIPShowContacts":
        assert sorted(f["Endpoint"] for f in rows) == ["1001", "1002", "1003", "1004", "1005"]
    if action == "ExtensionStateList":
        assert {f["Exten"]: f["StatusText"] for f in rows} == {f["Exten"]: f["StatusText"] for f in real_rows}
    if action == "QueueStatus":
        assert sorted(f.get("Location", "") for f in rows) == sorted(f.get("Location", "") for f in real_rows)


def test_snapshot_mid_call_lists_channels_bridges_parking(sim, ami):
    real = trace_frames("19")
    sim.inbound("5551000", "15550002222")
    sim.answer("1001")
    carrier = sim._find("15550002222").name
    ami.action("Park", Channel=carrier, Parkinglot="default")
    sim.call("1002", "1004")
    _, rows, end = ami.list_action("CoreShowChannels", "CoreShowChannelsComplete")
    assert len(rows) == len(sim.channels()) == 3
    names = {r["Channel"]: r for r in rows}
    assert names[carrier]["BridgeId"] and names[carrier]["Application"] == "Park"
    real_row = next(f for f in real if f.get("Event") == "CoreShowChannel")
    assert all(tuple(r) == tuple(real_row) for r in rows)
    _, parked, _ = ami.list_action("ParkedCalls", "ParkedCallsComplete")
    real_parked = next(f for f in real if f.get("Event") == "ParkedCall" and "Privilege" not in f)
    assert [tuple(p) for p in parked] == [tuple(real_parked)]
    assert parked[0]["ParkingSpace"] == "701"
    _, bridges, _ = ami.list_action("BridgeList", "BridgeListComplete")
    real_bridge = next(f for f in real if f.get("Event") == "BridgeListItem")
    assert {b["BridgeType"] for b in bridges} == {"parking"}
    assert all(tuple(b) == tuple(real_bridge) for b in bridges)
    _, status, end = ami.list_action("Status", "StatusComplete")
    real_status = next(f for f in real if f.get("Event") == "Status")
    assert all(tuple(s) == tuple(real_status) for s in status)
    assert end["Items"] == str(len(status)) == str(len(sim.channels()))


# ---------------------------------------------------------------- trace 24: errors


def test_action_errors_answer_like_trace_24(ami):
    real = trace_frames("24")
    expected = {f["ActionID"]: f for f in real if "Response" in f}
    asks = [
        (
            "cap-10",
            "Redirect",
            {"Channel": "PJSIP/1001-deadbeef", "Context": "internal", "Exten": "1002", "Priority": "1"},
        ),
        ("cap-11", "Hangup", {"Channel": "PJSIP/1001-deadbeef"}),
        ("cap-12", "Park", {"Channel": "PJSIP/1001-deadbeef", "Parkinglot": "default"}),
        ("cap-13", "QueueRemove", {"Queue": "support", "Interface": "PJSIP/1003"}),
        ("cap-14", "QueuePause", {"Queue": "nosuchqueue", "Interface": "PJSIP/1003", "Paused": "true"}),
        ("cap-15", "Atxfer", {"Channel": "PJSIP/1001-deadbeef", "Context": "internal", "Exten": "1003"}),
        ("cap-16", "MixMonitor", {"Channel": "PJSIP/1001-deadbeef", "File": "/tmp/x.wav"}),
        ("cap-17", "NoSuchAction", {}),
        ("cap-23", "Command", {"Command": "core show version"}),
    ]
    for cap, action, headers in asks:
        assert ami.action(action, ActionID=cap, **headers) == expected[cap], action
    bad = ami.wait_for(lambda f: f.get("Event") == "RequestBadFormat")
    real_bad = next(f for f in real if f.get("Event") == "RequestBadFormat")
    assert list(bad) == list(real_bad) and bad["RequestType"] == "Action: NoSuchAction"
    pong = ami.action("Ping", ActionID="cap-9")
    assert _keys(pong) == _keys(expected["cap-9"]) and pong["Ping"] == "Pong"


def test_originate_to_an_unregistered_phone_fails_like_trace_24(ami):
    real = trace_frames("24")
    response = ami.action(
        "Originate",
        ActionID="cap-18",
        Channel="PJSIP/1006",
        Context="internal",
        Exten="1002",
        Priority="1",
        Async="true",
        Timeout="5000",
    )
    assert response == next(
        f for f in real if f.get("ActionID") == "cap-18" and "Response" in f and "Event" not in f
    )
    failure = ami.wait_for(lambda f: f.get("Event") == "OriginateResponse")
    assert failure == next(f for f in real if f.get("Event") == "OriginateResponse")


def test_header_names_of_every_event_match_the_captures(sim, ami):
    """Whatever the simulator emits in a busy minute, each event's header list is one Asterisk sent."""
    real: dict[str, set[tuple[str, ...]]] = {}
    from telephony.simulator.testing import TRACES

    for path in TRACES.glob("*.ami"):
        for name, shapes in header_names(trace_frames(path.name[:3].rstrip("-"))).items():
            real.setdefault(name, set()).update(shapes)
    _drive_everything(sim, ami)
    mine = header_names(ami.frames)
    mine.pop("UserEvent")  # our marks carry no Expect header
    unknown = {name for name in mine if name not in real}
    # Events the captures never saw (the simulator does emit them for cases they miss).
    assert unknown <= {"ParkedCallTimeOut", "PresenceStateChange"}, unknown
    for name, shapes in mine.items():
        if name in real:
            assert shapes <= real[name], (name, shapes - real[name])


def _drive_everything(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    sim.hold("1001")
    sim.unhold("1001")
    ami.action("MixMonitor", Channel=sim._find("1001").name, File="/tmp/x.wav")
    ami.action("StopMixMonitor", Channel=sim._find("1001").name)
    sim.hangup("1002")
    sim.inbound("5552000", "15550001111")
    sim.answer("1003")
    ami.action(
        "Originate",
        Channel="PJSIP/1005",
        Application="ChanSpy",
        Data=sim._find("1003").name + ",qE",
        Async="true",
    )
    sim.wait_until(lambda: any(c["endpoint"] == "1005" and c["state"] == "Ringing" for c in sim.channels()))
    sim.answer("1005")
    sim.wait_until(lambda: sim.spies())
    sim.hangup("1005")
    sim.hangup("1003")
    sim.inbound("5551000", "15550002222")
    sim.answer("1001")
    carrier = sim._find("15550002222").name
    ami.action("Park", Channel=carrier, TimeoutChannel=sim._find("1001").name, Parkinglot="default")
    ami.action("Originate", Channel="PJSIP/1002", Context="internal", Exten="701", Priority="1", Async="true")
    sim.wait_until(lambda: any(c["endpoint"] == "1002" and c["state"] == "Ringing" for c in sim.channels()))
    sim.answer("1002")
    sim.wait_until(lambda: sim.bridged_with("1002"))
    ami.action("BlindTransfer", Channel=sim._find("1002").name, Context="internal", Exten="1004")
    sim.answer("1004")
    sim.hangup("1004")
    ami.action("Setvar", Variable="DEVICE_STATE(Custom:DND1002)", Value="BUSY")
    ami.action("QueuePause", Queue="support", Interface="PJSIP/1003", Paused="true", Reason="lunch")
    ami.action("QueueAdd", Queue="support", Interface="PJSIP/1005", MemberName="User 1005", Penalty="0")
    ami.action("QueueRemove", Queue="support", Interface="PJSIP/1005")
    sim.unregister("1005")
    sim.register("1005")
    ami.mark("done")
    assert sim.channels() == []


# ---------------------------------------------------------------- scenarios against the captures


def _orig_ringing(sim, ext):
    sim.wait_until(lambda: any(c["endpoint"] == ext and c["state"] == "Ringing" for c in sim.channels()))


def _s02(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    sim.hangup("1002")


def _s04(sim, ami):
    sim.inbound("5551000", "15550001000")
    sim.answer("1001")
    sim.hangup("1001")


def _s05(sim, ami):
    sim.inbound("5552000", "15550001111")
    sim.answer("1003")
    sim.hangup("1003")


def _s06(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    sim.hold("1001")
    sim.unhold("1001")
    sim.hangup("1001")


def _s07(sim, ami):
    sim.inbound("5551000", "15550002222")
    sim.answer("1001")
    ami.action(
        "Park",
        Channel=sim._find("15550002222").name,
        TimeoutChannel=sim._find("1001").name,
        Parkinglot="default",
    )
    assert sim.parked() == {"701": sim._find("15550002222").name}
    ami.action("ParkedCalls")
    ami.action(
        "Originate",
        Channel="PJSIP/1002",
        Context="internal",
        Exten="701",
        Priority="1",
        CallerID='"Unpark" <701>',
        Async="true",
    )
    _orig_ringing(sim, "1002")
    sim.answer("1002")
    sim.wait_until(lambda: sim.bridged_with("1002") == {"carrier"})
    sim.hangup("1002")


def _s09(sim, ami):
    sim.inbound("5551000", "15550003333")
    sim.answer("1001")
    ami.action("BlindTransfer", Channel=sim._find("1001").name, Context="internal", Exten="1004")
    sim.answer("1004")
    assert sim.bridged_with("1004") == {"carrier"}
    sim.hangup("1004")


def _s08(sim, ami):
    sim.inbound("5551000", "15550003333")
    sim.answer("1001")
    ami.action(
        "Redirect", Channel=sim._find("15550003333").name, Context="internal", Exten="1002", Priority="1"
    )
    sim.answer("1002")
    assert sim.bridged_with("1002") == {"carrier"}
    sim.hangup("1002")


def _s10(sim, ami):
    sim.inbound("5551000", "15550004444")
    sim.answer("1001")
    ami.action("Atxfer", Channel=sim._find("1001").name, Context="internal", Exten="1003")
    sim.answer("1003")
    sim.hangup("1001")
    assert sim.bridged_with("1003") == {"carrier"}
    sim.hangup("1003")


def _s11(sim, ami):
    ami.action(
        "Originate", Channel="PJSIP/1001", Context="internal", Exten="1002", Priority="1",
        CallerID='"Console call" <1002>', Async="true", Variable=["SWITCHBOARD_ORIGIN=console"],
    )  # fmt: skip
    _orig_ringing(sim, "1001")
    sim.answer("1001")
    sim.answer("1002")
    sim.hangup("1001")


def _s13(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    chan = sim._find("1001").name
    assert ami.action("MixMonitor", Channel=chan, File="/tmp/r.wav", Options="b")["Response"] == "Success"
    assert ami.action("StopMixMonitor", Channel=chan)["Response"] == "Success"
    sim.hangup("1002")


def _s14(sim, ami):
    sim.inbound("5551000", "15550005555")
    sim.answer("1001")
    ami.action(
        "Redirect", Channel=sim._find("15550005555").name, Context="internal", Exten="*1002", Priority="1"
    )
    ami.action("Hangup", Channel=sim._find("15550005555").name)


def _s15(sim, ami):
    sim.inbound("5551000", "15550006666")
    ami.action("Hangup", Channel=sim._find("1001").name, Cause="17")
    ami.action("Hangup", Channel=sim._find("15550006666").name)


def _s16(sim, ami):
    assert (
        ami.action("Setvar", Variable="DEVICE_STATE(Custom:DND1002)", Value="BUSY")["Message"]
        == "Variable Set"
    )
    assert sim.dnd("1002")
    ami.action("Setvar", Variable="DEVICE_STATE(Custom:DND1002)", Value="NOT_INUSE")
    assert not sim.dnd("1002")


def _s17(sim, ami):
    sim.inbound("5551000", "15550007777")
    ami.action(
        "Originate",
        Channel="PJSIP/1002",
        Application="PickupChan",
        Data="PJSIP/1001",
        CallerID='"Pickup" <1002>',
        Async="true",
    )
    _orig_ringing(sim, "1002")
    sim.answer("1002")
    sim.wait_until(lambda: sim.bridged_with("1002") == {"carrier"})
    sim.hangup("1002")


def _s18(sim, ami):
    sim.inbound("5551000", "15550008888")
    sim.answer("1001")
    sim.transfer("1001", "1003")
    sim.answer("1003")
    sim.hangup("1003")


def _s20(sim, ami):
    ami.action("QueuePause", Queue="support", Interface="PJSIP/1003", Paused="true", Reason="lunch")
    assert sim.queue_members("support")["1003"]["reason"] == "lunch"
    sim.inbound("5552000", "15550009999")
    sim.answer("1004")
    sim.hangup("1004")
    ami.action("QueuePause", Queue="support", Interface="PJSIP/1003", Paused="false")
    ami.action("QueueAdd", Queue="support", Interface="PJSIP/1005", MemberName="User 1005", Penalty="0")
    ami.action("QueueStatus", Queue="support")
    ami.action("QueueRemove", Queue="support", Interface="PJSIP/1005")


def _s21(sim, ami):
    sim.inbound("5552000", "15550001212")
    ami.action("QueueStatus", Queue="support")
    ami.action("Hangup", Channel=sim._find("15550001212").name)


def _s12(sim, ami):
    sim.inbound("5552000", "15550002323")
    sim.answer("1003")
    agent = sim._find("1003").name
    for mode, options in (("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")):
        ami.action(
            "Originate",
            Channel="PJSIP/1005",
            Application="ChanSpy",
            Data=f"{agent},{options}",
            CallerID=f'"{mode}" <1005>',
            Async="true",
        )
        _orig_ringing(sim, "1005")
        sim.answer("1005")
        sim.wait_until(lambda: sim.spies())
        assert sim.spies()[0]["mode"] == mode
        sim.hangup("1005")
    sim.hangup("1003")


def _s22(sim, ami):
    sim.layout.ivr_timeout = 0.0
    sim.inbound("5551000", "15550002424")
    sim.answer("1001")
    ami.action(
        "Redirect", Channel=sim._find("15550002424").name, Context="internal", Exten="7000", Priority="1"
    )
    sim.wait_until(lambda: sim.queue_callers("support"))
    _orig_ringing(sim, "1003")
    sim.answer("1003")
    sim.hangup("1003")


def _s01(sim, ami):
    sim.unregister("1005")
    sim.register("1005")


SCENARIOS = {
    "01": _s01,
    "02": _s02,
    "04": _s04,
    "05": _s05,
    "06": _s06,
    "07": _s07,
    "08": _s08,
    "09": _s09,
    "10": _s10,
    "11": _s11,
    "12": _s12,
    "13": _s13,
    "14": _s14,
    "15": _s15,
    "16": _s16,
    "17": _s17,
    "18": _s18,
    "20": _s20,
    "21": _s21,
    "22": _s22,
}


@pytest.mark.parametrize("trace", sorted(SCENARIOS))
def test_scenario_events_match_the_capture(sim, ami, trace):
    ami.mark("start")
    SCENARIOS[trace](sim, ami)
    ami.mark("end")
    mine = per_party(live_part(ami.frames))
    real = per_party(live_part(trace_frames(trace)))
    assert mine == real
    sim.wait_until(lambda: not sim.channels() or trace == "07")


# ---------------------------------------------------------------- traffic


def test_traffic_with_several_clients_leaves_no_channels(sim):
    sim.pbx.answer_delay = 0.01
    sim.pbx.outside_answer_delay = 0.01
    clients = [Client(sim.port) for _ in range(3)]
    for c in clients:
        c.login()
    sim.run_traffic(calls_per_minute=3000, talk_seconds=0.05)
    sim.wait_until(lambda: sim._traffic.started >= 60, timeout=30)
    sim.stop_traffic()
    sim.wait_until(lambda: not sim.channels(), timeout=30)
    assert sim.parked() == {} and sim.queue_callers("support") == []
    assert not sim.pbx.bridges or all(b.type == "parking" for b in sim.pbx.bridges.values())
    for c in clients:
        c.mark("traffic-done")
    skip = {"UserEvent", "SuccessfulAuth", "FullyBooted"}
    streams = [
        [(f["Event"], f.get("Uniqueid")) for f in c.frames if f.get("Event", "UserEvent") not in skip]
        for c in clients
    ]
    news = [f for f in clients[0].frames if f.get("Event") == "Newchannel"]
    gone = [f for f in clients[0].frames if f.get("Event") == "Hangup"]
    assert len(news) == len(gone) > 60
    assert {f["Uniqueid"] for f in news} == {f["Uniqueid"] for f in gone}
    assert streams[0] == streams[1] == streams[2]  # every client sees the one PBX order
    for c in clients:
        c.close()


def test_traffic_is_reproducible_with_a_seed():
    def run(seed):
        s = Simulator(answer_delay=None, seed=seed)
        from telephony.simulator.traffic import TrafficGenerator

        gen = TrafficGenerator(s, calls_per_minute=60, seed=seed)
        return [gen.rng.random() for _ in range(5)], gen

    a, _ = run(7)
    b, _ = run(7)
    c, _ = run(8)
    assert a == b != c


def test_parked_call_times_out_back_to_the_parker():
    sim = Simulator(layout=PbxLayout.demo(parking_time=0), answer_delay=None, seed=2)
    sim.start()
    try:
        client = Client(sim.port)
        client.login()
        sim.inbound("5551000", "15551110000")
        sim.answer("1001")
        client.action("Park", Channel=sim._find("15551110000").name, Parkinglot="default")
        client.wait_for(lambda f: f.get("Event") == "ParkedCallTimeOut")
        _orig_ringing(sim, "1001")
        sim.answer("1001")
        assert sim.bridged_with("1001") == {"carrier"}
        assert sim.parked() == {}
        client.close()
    finally:
        sim.stop()


def test_shutdown_hangs_up_and_says_shutdown(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    sim.restart()
    shutdown = ami.wait_for(lambda f: f.get("Event") == "Shutdown")
    real = next(f for f in trace_frames("26a") if f.get("Event") == "Shutdown")
    assert shutdown == real
    hangups = [f for f in ami.frames if f.get("Event") == "Hangup"]
    assert len(hangups) == 2 and ami.frames.index(hangups[-1]) < ami.frames.index(shutdown)
    assert sim.channels() == []
    deadline = time.monotonic() + 5
    while not ami.closed and time.monotonic() < deadline:
        ami._pump(0.2)
    assert ami.closed
