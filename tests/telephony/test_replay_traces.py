"""Every real capture (shared/ami-traces) through the real framing and the engine.

At every `UserEvent: SwitchboardMark` the colour of every box and the extra keys (parked=,
dnd=, recording=, spy=, members=, paused=, waiting=) must match. Bytes are fed in random
chunk sizes, several seeds, tiny chunks included.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from telephony.engine import Engine
from telephony.engine.replay import (
    REPLAY_TENANT,
    Replay,
    ReplayClock,
    check_mark,
    measure,
    replay_files,
    snapshot_groups,
    tenant_map_for,
)

TRACES = Path(__file__).resolve().parents[3] / "shared" / "ami-traces"
SINGLE = sorted(p for p in TRACES.glob("*.ami") if not p.stem.startswith("26"))
RESTART = [TRACES / "26a-pbx-restart-before.ami", TRACES / "26b-pbx-restart-after.ami"]


def test_the_captures_are_there() -> None:
    assert len(SINGLE) == 25, f"expected the 25 single captures in {TRACES}"
    assert all(p.exists() for p in RESTART)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("trace", SINGLE, ids=lambda p: p.stem)
def test_every_mark_of_the_capture_holds(trace: Path, seed: int) -> None:
    engine, (result,) = replay_files([trace], seed=seed, max_chunk=7 if seed == 2 else 4096)
    if trace.stem.startswith("25"):
        assert result.login_failed == "Authentication failed"
        assert result.marks == []
        return
    assert result.marks, "a capture without marks proves nothing"
    failures = [f"{m.label}: {m.problems}" for m in result.marks if not m.ok]
    assert not failures
    assert engine.bad_frames == 0
    # Every capture ends with all calls hung up: nothing may linger.
    assert engine.s.calls == {}
    assert engine.s.channels == {}
    assert engine.tenant_view(REPLAY_TENANT)["calls"] == {}


def test_restart_captures_replay_on_one_engine() -> None:
    engine, results = replay_files(RESTART, seed=5)
    marks = [m for r in results for m in r.marks]
    assert [m.label for m in marks] == ["start", "talking", "after the restart"]
    assert all(m.ok for m in marks), [m.problems for m in marks]
    assert engine.online
    assert engine.s.calls == {}


def test_a_pbx_that_dies_silently_leaves_no_ghost_call(tmp_path: Path) -> None:
    """26a cut right after its `talking` mark (no Hangup, no Shutdown), then 26b's snapshot."""
    data = RESTART[0].read_bytes()
    cut = data.index(b"\r\n\r\n", data.index(b"Label: talking")) + 4
    before = tmp_path / RESTART[0].name
    before.write_bytes(data[:cut])
    before.with_suffix(".actions").write_bytes(RESTART[0].with_suffix(".actions").read_bytes())
    clock = ReplayClock()
    engine = Engine(tenant_map_for(RESTART), clock=clock)
    replay = Replay(engine, clock=clock, rng=random.Random(3))

    first = replay.run_file(before)
    assert [m.label for m in first.marks] == ["start", "talking"]
    assert engine.colour("1001") == "dark-green"
    assert len(engine.tenant_view(REPLAY_TENANT)["calls"]) == 1
    (linkedid,) = engine.s.calls

    second = replay.run_file(RESTART[1])
    assert all(m.ok for m in second.marks)
    assert engine.s.calls == {} and engine.s.channels == {}
    assert engine.colour("1001") == "white" and engine.colour("1002") == "white"
    ended = [d for d in second.deltas if d.kind == "call_ended"]
    assert [d.key for d in ended] == [linkedid]
    assert ended[0].summary is not None and ended[0].summary["disposition"] == "answered"
    gone = [d for d in second.deltas if d.kind == "call" and d.key == linkedid]
    assert gone and linkedid not in engine.tenant_view(REPLAY_TENANT)["calls"]


def test_the_mid_traffic_snapshot_is_a_resync() -> None:
    """Trace 19 takes a second snapshot during a queue call, a parked call and a ringing call."""
    actions = [
        {"Action": "CoreShowChannels", "ActionID": "a"},
        {"Action": "BridgeList", "ActionID": "b"},
        {"Action": "QueueStatus", "ActionID": "c"},
        {"Action": "UserEvent", "ActionID": "d"},
        {"Action": "QueueStatus", "Queue": "support", "ActionID": "e"},
        {"Action": "BridgeList", "ActionID": "f"},
        {"Action": "Status", "ActionID": "g"},
    ]
    assert snapshot_groups(actions) == {"a": (frozenset("abc"), "c")}

    calls = []

    class Spy(Engine):
        def begin_resync(self, action_ids=None):  # type: ignore[no-untyped-def]
            calls.append(("begin", sorted(action_ids or ())))
            super().begin_resync(action_ids)

        def end_resync(self):  # type: ignore[no-untyped-def]
            calls.append(("end", len(self.s.channels)))
            return super().end_resync()

    trace = TRACES / "19-resync-snapshot.ami"
    clock = ReplayClock()
    engine = Spy(tenant_map_for([trace]), clock=clock)
    result = Replay(engine, clock=clock).run_file(trace)
    assert all(m.ok for m in result.marks)
    assert calls[2] == ("begin", [f"cap-{n}" for n in range(11, 19)])
    assert calls[3] == ("end", 5)  # the five channels CoreShowChannels listed


def test_a_wrong_expectation_is_reported() -> None:
    """The oracle itself can fail: a mark that expects the wrong colour is a problem."""
    engine, _ = replay_files([TRACES / "02-internal-call.ami"])
    frame = {
        "Event": "UserEvent",
        "UserEvent": "SwitchboardMark",
        "Label": "wrong",
        "Expect": "1001=dark-green 1002=white parked=701 dnd=1002 members=1003 waiting=2 spy=1005>barge>1003",
    }
    mark = check_mark(engine, "02", frame)
    assert not mark.ok
    joined = " ".join(mark.problems)
    for word in ("1001", "parked", "dnd", "members", "waiting", "spy"):
        assert word in joined


def test_ami_replay_command_prints_each_mark_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management import call_command

    call_command("ami_replay", str(TRACES / "07-park-unpark.ami"))
    out = capsys.readouterr().out
    assert "parked in 701: 1001=white 1002=white" in out and "parked=701" in out
    assert "6/6 marks match" in out


def test_ami_replay_command_reports_the_failed_login_and_exits_cleanly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.core.management import call_command

    call_command("ami_replay", str(TRACES / "25-login-failure.ami"))
    assert "login failed: Authentication failed" in capsys.readouterr().out


def test_ami_replay_command_exits_1_on_a_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management import call_command

    trace = TRACES / "02-internal-call.ami"
    bad = tmp_path / trace.name
    bad.write_bytes(
        trace.read_bytes().replace(
            b"Label: talking\r\nExpect: 1001=dark-green", b"Label: talking\r\nExpect: 1001=orange"
        )
    )
    with pytest.raises(SystemExit) as exit_info:
        call_command("ami_replay", str(bad))
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "1001: expected orange, engine says dark-green" in out


def test_measure_counts_what_it_timed() -> None:
    numbers = measure([TRACES / "02-internal-call.ami", TRACES / "05-queue-call.ami"], repeat=2)
    assert numbers["frames"] == numbers["fed"] + numbers["skipped"]
    assert numbers["skipped"] > 0 and numbers["deltas"] > 0 and numbers["seconds"] > 0
