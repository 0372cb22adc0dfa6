"""Captures recorded from the simulator for cases the real ones miss (tests/telephony/captures).

Each `sim-NN-*.ami` is the byte stream a client logged in as `panel` received, with marks in the
format of shared/ami-traces (UserEvent SwitchboardMark + Expect), so engine tests can replay
them like the real ones. These tests check the simulator still produces the same stream (per
party, ids ignored). Re-record after a deliberate change:

    .venv/bin/python -m tests.telephony.test_simulator_captures
"""

from __future__ import annotations

import json
import sys

import pytest

from telephony.simulator import PbxLayout, Simulator
from telephony.simulator.testing import CAPTURES, Client, live_part, per_party, trace_frames

IDLE = {
    "1001": "white",
    "1002": "white",
    "1003": "white",
    "1004": "white",
    "1005": "white",
    "1006": "light-grey",
}


def expect(**colours: str) -> str:
    merged = {**IDLE, **{k.lstrip("x"): v.replace("_", "-") for k, v in colours.items()}}
    return " ".join(f"{ext}={colour}" for ext, colour in merged.items())


def _ringing(sim, ext):
    sim.wait_until(lambda: any(c["endpoint"] == ext and c["state"] == "Ringing" for c in sim.channels()))


def park_timeout(sim, ami):
    """Parked call nobody takes: after parkingtime it rings the phone that parked it."""
    sim.inbound("5551000", "15550101010")
    sim.answer("1001")
    ami.mark("talking to outside", expect(x1001="light_green"))
    ami.action("Park", Channel=sim._find("15550101010").name, Parkinglot="default")
    ami.wait_for(lambda f: f.get("Event") == "ParkedCallTimeOut")
    _ringing(sim, "1001")
    ami.mark("park timed out, the parker rings", expect(x1001="yellow"))
    sim.answer("1001")
    ami.mark("parker talks to the caller again", expect(x1001="light_green"))
    sim.hangup("1001")
    ami.mark("ended", expect())


def busy_callee(sim, ami):
    """1002 declines (486 Busy): Dial ends BUSY and the caller leaves a voicemail."""
    sim.call("1001", "1002")
    ami.mark("ringing", expect(x1001="yellow", x1002="yellow"))
    sim.hangup("1002", cause=17)
    ami.mark("caller in 1002's voicemail", expect(x1001="dark_green"))
    sim.hangup("1001")
    ami.mark("ended", expect())


def cancel_atxfer(sim, ami):
    """Atxfer to 1003, 1003 answers, then CancelAtxfer: 1001 is back with the caller."""
    sim.inbound("5551000", "15550202020")
    sim.answer("1001")
    ami.mark("talking to outside", expect(x1001="light_green"))
    ami.action("Atxfer", Channel=sim._find("1001").name, Context="internal", Exten="1003")
    ami.mark("consulting 1003, outside waits", expect(x1001="yellow", x1003="yellow"))
    sim.answer("1003")
    ami.mark("1001 consults 1003", expect(x1001="dark_green", x1003="dark_green"))
    response = ami.action("CancelAtxfer", Channel=sim._find("1001").name)
    assert response["Message"] == "CancelAtxfer successfully queued"
    ami.mark("transfer cancelled, back with the caller", expect(x1001="light_green"))
    assert sim.bridged_with("1001") == {"carrier"}
    sim.hangup("1001")
    ami.mark("ended", expect())


CASES = {
    "sim-01-park-timeout": (park_timeout, {"parking_time": 0}),
    "sim-02-busy-callee": (busy_callee, {}),
    "sim-03-cancel-atxfer": (cancel_atxfer, {}),
}


def run_case(name: str) -> Client:
    driver, layout_kwargs = CASES[name]
    sim = Simulator(layout=PbxLayout.demo(**layout_kwargs), answer_delay=None, seed=1)
    sim.start()
    try:
        ami = Client(sim.port)
        ami.action("Login", Username="panel", Secret="panelsecret", Events="on", ActionID="cap-1")
        ami.wait_for(lambda f: f.get("Event") == "FullyBooted")
        for n, (action, complete) in enumerate(
            [
                ("PJSIPShowContacts", "ContactListComplete"),
                ("DeviceStateList", "DeviceStateListComplete"),
                ("ExtensionStateList", "ExtensionStateListComplete"),
                ("CoreShowChannels", "CoreShowChannelsComplete"),
                ("ParkedCalls", "ParkedCallsComplete"),
                ("QueueStatus", "QueueStatusComplete"),
            ],
            start=2,
        ):
            ami.list_action(action, complete, ActionID=f"cap-{n}")
        ami.mark("start", expect())
        driver(sim, ami)
        ami.action("Logoff")
        assert sim.channels() == []
        return ami
    finally:
        sim.stop()


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulator_still_produces_the_recorded_capture(name):
    ami = run_case(name)
    assert per_party(live_part(ami.frames)) == per_party(live_part(trace_frames(name)))
    marks = [f for f in ami.frames if f.get("UserEvent") == "SwitchboardMark"]
    recorded = [f for f in trace_frames(name) if f.get("UserEvent") == "SwitchboardMark"]
    assert [(m["Label"], m["Expect"]) for m in marks] == [(m["Label"], m["Expect"]) for m in recorded]


def record() -> None:
    CAPTURES.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        ami = run_case(name)
        (CAPTURES / f"{name}.ami").write_bytes(bytes(ami.raw))
        lines = [json.dumps(a) for a in ami.sent]
        (CAPTURES / f"{name}.actions").write_text("\n".join(lines) + "\n")
        print(f"recorded {name}: {len(ami.frames)} frames", file=sys.stderr)


if __name__ == "__main__":
    record()
