"""Simulator gaps the operations layer found: intercom, attended transfer completed or cancelled
by AMI, `9+<number>` outbound, busy phones. Over the real TCP socket; every event the simulator
emits here must have a header list Asterisk sent in some capture (shared/ami-traces).
"""

from __future__ import annotations

import pytest

from telephony.simulator import PbxLayout, Simulator
from telephony.simulator.testing import TRACES, Client, header_names, trace_frames


@pytest.fixture
def sim():
    simulator = Simulator(layout=PbxLayout.demo(), answer_delay=None, seed=3)
    simulator.start(host="127.0.0.1", port=0)
    yield simulator
    simulator.stop()


_REAL: dict[str, set[tuple[str, ...]]] = {}


def assert_shapes_are_real(frames) -> None:
    """Each event's header list is one Asterisk 22 sent in a capture (ids and values aside)."""
    if not _REAL:
        for path in TRACES.glob("*.ami"):
            for name, shapes in header_names(trace_frames(path.name[:3].rstrip("-"))).items():
                _REAL.setdefault(name, set()).update(shapes)
    mine = header_names(frames)
    mine.pop("UserEvent", None)
    for name, shapes in mine.items():
        assert name in _REAL, name
        assert shapes <= _REAL[name], (name, shapes - _REAL[name])


def events(ami: Client, name: str, **match: str) -> list[dict]:
    return [
        f
        for f in ami.frames
        if f.get("Event") == name and all(str(f.get(k, "")).startswith(v) for k, v in match.items())
    ]


def ringing(sim: Simulator, ext: str) -> None:
    sim.wait_until(lambda: any(c["endpoint"] == ext and c["state"] == "Ringing" for c in sim.channels()))


def consult(sim: Simulator, ami: Client, *, answer: bool) -> str:
    """An outside caller talks to 1001, which starts an Atxfer to 1003 (trace 10)."""
    sim.inbound("5551000", "15550007777")
    sim.answer("1001")
    transferer = sim._find("1001").name
    ami.action("Atxfer", Channel=transferer, Context="internal", Exten="1003")
    ringing(sim, "1003")
    if answer:
        sim.answer("1003")
        assert sim.bridged_with("1003") == {"Local/1003@internal-00000000;2"}
    return transferer


def locals_left(sim: Simulator) -> list[str]:
    return [c["name"] for c in sim.channels() if c["name"].startswith("Local/")]


# ---------------------------------------------------------------- 1. intercom


def test_intercom_callee_answers_by_itself(sim, ami):
    """docs/asterisk [switchboard-intercom]: my phone rings first; the callee, dialled with the
    auto-answer headers (pre-dial handler), answers without anyone touching it."""
    response = ami.action(
        "Originate", Channel="PJSIP/1001", Context="switchboard-intercom", Exten="1002", Priority="1",
        CallerID='"Intercom" <1002>', Async="true", Timeout="30000",
    )  # fmt: skip
    assert response["Message"] == "Originate successfully queued"
    ringing(sim, "1001")
    assert not any(c["endpoint"] == "1002" for c in sim.channels())
    sim.answer("1001")
    sim.wait_until(lambda: sim.bridged_with("1001") == {"1002"})
    ami.mark("intercom open")
    callee = sim._find("1002").name
    header_steps = [
        (f["Application"], f["AppData"])
        for f in events(ami, "Newexten", Channel=callee, Context="switchboard-intercom-headers")
    ]
    assert header_steps == [
        ("Set", "PJSIP_HEADER(add,Call-Info)=<sip:intercom>;answer-after=0"),
        ("Set", "PJSIP_HEADER(add,Alert-Info)=<http://localhost>;info=alert-autoanswer;delay=0"),
        ("Return", ""),
    ]
    dial = events(ami, "Newexten", Channel="PJSIP/1001-", Application="Dial")[0]
    assert dial["Context"] == "switchboard-intercom"
    assert dial["AppData"] == "PJSIP/1002,20,b(switchboard-intercom-headers^s^1)"
    assert events(ami, "DialEnd", DestChannel=callee)[0]["DialStatus"] == "ANSWER"
    assert [f["Response"] for f in events(ami, "OriginateResponse")] == ["Success"]
    sim.hangup("1002")
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert_shapes_are_real(ami.frames)


def test_intercom_to_a_phone_on_a_call_is_busy_and_hangs_up(sim, ami):
    sim.call("1002", "1003")
    sim.answer("1003")
    ami.action("Originate", Channel="PJSIP/1001", Context="switchboard-intercom", Exten="1002", Async="true")
    ringing(sim, "1001")
    sim.answer("1001")
    sim.wait_until(lambda: not any(c["endpoint"] == "1001" for c in sim.channels()))
    ami.mark("done")
    assert [f["DialStatus"] for f in events(ami, "DialEnd", Channel="PJSIP/1001-")] == ["BUSY"]
    assert sim.bridged_with("1002") == {"1003"}
    assert_shapes_are_real(ami.frames)


# ---------------------------------------------------------------- 2. attended transfer


def test_ami_hangup_of_the_transferer_completes_an_answered_consultation(sim, ami):
    """What the product's "complete" does: AMI Hangup of the transferer (not its phone's BYE)."""
    transferer = consult(sim, ami, answer=True)
    assert ami.action("Hangup", Channel=transferer)["Message"] == "Channel Hungup"
    sim.wait_until(lambda: sim.bridged_with("1003") == {"carrier"})
    ami.mark("transferred")
    assert locals_left(sim) == [] and not any(c["endpoint"] == "1001" for c in sim.channels())
    assert [f["Cause"] for f in events(ami, "SoftHangupRequest", Channel=transferer)] == ["16"]
    assert not events(ami, "HangupRequest", Channel=transferer)
    done = events(ami, "AttendedTransfer")
    assert len(done) == 1 and done[0]["Result"] == "Success" and done[0]["DestType"] == "Bridge"
    assert done[0]["TransfereeChannel"].startswith("PJSIP/carrier-")
    assert len(events(ami, "BridgeMerge")) == 1 and len(events(ami, "LocalOptimizationEnd")) == 1
    sim.hangup("1003")
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert_shapes_are_real(ami.frames)


def test_transferer_leaving_while_the_target_rings_hands_the_caller_to_the_ringing_target(sim, ami):
    """Asterisk's "blond" transfer: the caller hears the target ring, and is bridged with it
    when it answers (the Local pair then optimises away, as in trace 10)."""
    transferer = consult(sim, ami, answer=False)
    ami.action("Hangup", Channel=transferer)
    sim.wait_until(lambda: not any(c["endpoint"] == "1001" for c in sim.channels()))
    assert sim.bridged_with("1003") == set()
    carrier = sim._find("15550007777")
    assert carrier.bridge is not None
    assert [c.name for c in carrier.bridge.channels if c is not carrier] == ["Local/1003@internal-00000000;1"]
    assert carrier.held is False
    ringing(sim, "1003")  # still ringing
    ami.mark("caller hears 1003 ring")
    assert len(events(ami, "AttendedTransfer")) == 1
    assert events(ami, "MusicOnHoldStop", Channel=carrier.name)
    sim.answer("1003")
    sim.wait_until(lambda: sim.bridged_with("1003") == {"carrier"})
    assert locals_left(sim) == []
    sim.hangup("15550007777")
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert_shapes_are_real(ami.frames)


def test_blond_transfer_the_target_declines_and_the_caller_reaches_its_voicemail(sim, ami):
    transferer = consult(sim, ami, answer=False)
    sim.hangup(transferer)  # the phone's own BYE completes it the same way
    sim.wait_until(lambda: not any(c["endpoint"] == "1001" for c in sim.channels()))
    sim.hangup("1003", cause=17)
    sim.wait_until(lambda: any(c["application"] == "VoiceMail" for c in sim.channels()))
    ami.mark("voicemail")
    assert events(ami, "HangupRequest", Channel=transferer)
    assert {c["state"] for c in sim.channels()} == {"Up"}
    sim.hangup("15550007777")
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert_shapes_are_real(ami.frames)


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "ringing"])
def test_cancel_atxfer_hangs_the_consultation_up_with_request_events(sim, ami, answered):
    transferer = consult(sim, ami, answer=answered)
    target = sim._find("1003").name
    assert ami.action("CancelAtxfer", Channel=transferer)["Message"] == "CancelAtxfer successfully queued"
    sim.wait_until(lambda: sim.bridged_with("1001") == {"carrier"})
    ami.mark("back with the caller")
    assert locals_left(sim) == [] and not any(c["endpoint"] == "1003" for c in sim.channels())
    one, two = "Local/1003@internal-00000000;1", "Local/1003@internal-00000000;2"
    # ;1 is removed from the transferer's bridge and hung up; its hangup is queued on ;2
    # (HangupRequest), which ends its Dial: a bridged ;2 gets the bridge's soft hangup, a
    # ringing target is cancelled (DialEnd CANCEL) and hung up by Dial without a request.
    assert [f["Cause"] for f in events(ami, "HangupRequest", Channel=two)] == ["16"]
    assert not events(ami, "HangupRequest", Channel=one) and not events(ami, "SoftHangupRequest", Channel=one)
    assert bool(events(ami, "SoftHangupRequest", Channel=two)) is answered
    assert not events(ami, "HangupRequest", Channel=target)
    assert not events(ami, "SoftHangupRequest", Channel=target)
    if not answered:
        assert [f["DialStatus"] for f in events(ami, "DialEnd", DestChannel=target)] == ["CANCEL"]
    assert events(ami, "Unhold", Channel=transferer)
    assert not events(ami, "AttendedTransfer")
    sim.hangup("1001")
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert_shapes_are_real(ami.frames)


def test_the_target_hanging_up_during_the_consultation_returns_the_transferer(sim, ami):
    transferer = consult(sim, ami, answer=True)
    sim.hangup("1003")
    sim.wait_until(lambda: sim.bridged_with("1001") == {"carrier"})
    ami.mark("back")
    assert locals_left(sim) == [] and events(ami, "Unhold", Channel=transferer)
    assert sim._find("1001").atxfer is None
    sim.hangup("1001")
    sim.wait_until(lambda: not sim.channels())
    assert_shapes_are_real(ami.frames)


def test_the_caller_hanging_up_during_the_consultation_leaves_the_consultation_up(sim, ami):
    transferer = consult(sim, ami, answer=True)
    sim.hangup("15550007777")
    ami.mark("caller gone")
    assert sim._find("1001").atxfer is None
    ami.action("Hangup", Channel=transferer)  # no transfer left to complete: a plain hangup
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert not events(ami, "AttendedTransfer")
    assert_shapes_are_real(ami.frames)


# ---------------------------------------------------------------- 3. 9+<number>


def test_outbound_with_a_plus_goes_to_the_trunk(sim, ami):
    """docs/asterisk `_9+X.`: Dial(PJSIP/${EXTEN:1}@carrier) — the + goes to the carrier."""
    sim.call("1002", "9+4930123456")
    begin = ami.wait_for(lambda f: f.get("Event") == "DialBegin")
    assert begin["DialString"] == "+4930123456@carrier" and begin["DestChannel"].startswith("PJSIP/carrier-")
    sim.answer("+4930123456")
    sim.wait_until(lambda: sim.bridged_with("1002") == {"carrier"})
    ami.mark("talking")
    dial = events(ami, "Newexten", Channel="PJSIP/1002-", Application="Dial")[0]
    assert dial["AppData"] == "PJSIP/+4930123456@carrier,30,tT"
    sim.hangup("1002")
    sim.wait_until(lambda: not sim.channels())
    assert_shapes_are_real(ami.frames)


def test_originate_to_a_plus_number(sim, ami):
    sim.pbx.outside_answer_delay = 0.0
    ami.action("Originate", Channel="PJSIP/1002", Context="internal", Exten="9+4930123456", Async="true")
    ringing(sim, "1002")
    sim.answer("1002")
    sim.wait_until(lambda: sim.bridged_with("1002") == {"carrier"})
    sim.hangup("1002")
    sim.wait_until(lambda: not sim.channels())


@pytest.mark.parametrize("exten", ["9+", "9+4", "9+49a", "9++4930"])
def test_malformed_plus_numbers_are_not_dialled(sim, ami, exten):
    sim.call("1002", exten)
    sim.wait_until(lambda: not sim.channels())
    ami.mark("done")
    assert not events(ami, "DialBegin")


# ---------------------------------------------------------------- 4. busy


def test_a_phone_on_a_call_answers_busy_and_the_caller_goes_to_voicemail(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    sim.call("1003", "1002")
    sim.wait_until(lambda: any(c["application"] == "VoiceMail" for c in sim.channels()))
    ami.mark("busy")
    caller = sim._find("1003").name
    busy_leg = events(ami, "DialBegin", Channel=caller)[0]["DestChannel"]
    assert [f["DialStatus"] for f in events(ami, "DialEnd", Channel=caller)] == ["BUSY"]
    hangup = events(ami, "Hangup", Channel=busy_leg)[0]
    assert (hangup["Cause"], hangup["Cause-txt"]) == ("17", "User busy")
    assert not events(ami, "Newstate", Channel=busy_leg)  # 486 at once: it never rang
    voicemail = events(ami, "Newexten", Channel=caller, Application="VoiceMail")[0]
    assert voicemail["AppData"] == "1002@default,b"  # pbx-config: Dial, then VoiceMail
    assert sim.bridged_with("1002") == {"1001"}  # the call in progress is untouched
    sim.hangup("1003")
    sim.hangup("1002")
    sim.wait_until(lambda: not sim.channels())
    ami.mark("ended")
    assert_shapes_are_real(ami.frames)


def test_call_waiting_lets_a_busy_phone_ring():
    sim = Simulator(layout=PbxLayout.demo(call_waiting=True), answer_delay=None, seed=3)
    sim.start()
    try:
        ami = Client(sim.port)
        ami.login()
        sim.call("1001", "1002")
        sim.answer("1002")
        sim.call("1003", "1002")
        ringing(sim, "1002")
        ami.mark("waiting")
        assert not [f for f in ami.frames if f.get("DialStatus") == "BUSY"]
        ami.close()
    finally:
        sim.stop()


def test_originate_from_a_phone_on_a_call_fails_busy(sim, ami):
    sim.call("1001", "1002")
    sim.answer("1002")
    action_id = ami.send("Originate", Channel="PJSIP/1002", Context="internal", Exten="1003", Async="true")
    response = ami.wait_for(
        lambda f: f.get("Event") == "OriginateResponse" and f.get("ActionID") == action_id
    )
    assert (response["Response"], response["Reason"], response["Uniqueid"]) == ("Failure", "5", "<unknown>")
    assert sim.bridged_with("1002") == {"1001"}
    assert not any(c["endpoint"] == "1003" for c in sim.channels())
    ami.mark("done")
    assert_shapes_are_real(ami.frames)


def test_a_busy_queue_member_is_not_rung_and_redirect_to_a_busy_phone_is_busy(sim, ami):
    sim.call("1003", "1001")
    sim.answer("1001")
    sim.inbound("5552000", "15550008888")  # the queue: only 1004 is free
    ringing(sim, "1004")
    assert not any(c["endpoint"] == "1003" and c["state"] == "Ringing" for c in sim.channels())
    sim.hangup("15550008888")
    sim.inbound("5551000", "15550009999")  # reception (1001) is on a call: busy → voicemail
    sim.wait_until(lambda: any(c["application"] == "VoiceMail" for c in sim.channels()))
    ami.mark("done")
    assert events(ami, "DialEnd", DialStatus="BUSY")
    sim.hangup("15550009999")
    sim.hangup("1003")
    sim.wait_until(lambda: not sim.channels())
    assert_shapes_are_real(ami.frames)


def test_traffic_picks_idle_phones_so_nobody_is_busy():
    sim = Simulator(layout=PbxLayout.demo(extensions=range(1001, 1011)), answer_delay=0.01, seed=5)
    sim.start()
    try:
        ami = Client(sim.port)
        ami.login()
        sim.run_traffic(calls_per_minute=3000, talk_seconds=0.05)
        sim.wait_until(lambda: sim._traffic.started >= 80, timeout=30)
        sim.stop_traffic()
        sim.wait_until(lambda: not sim.channels(), timeout=30)
        ami.mark("traffic-done")
        assert len(events(ami, "Newchannel")) > 80
        assert not [f for f in ami.frames if f.get("DialStatus") == "BUSY"]
        assert_shapes_are_real(ami.frames)
        ami.close()
    finally:
        sim.stop()
