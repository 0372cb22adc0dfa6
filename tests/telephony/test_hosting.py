"""PbxRunner, the Redis lease, embedded mode, the transport task, and worker failover.

The runner runs against a stand-in engine (tests/telephony/amiserver.StandInEngine) with the
Engine interface of docs/architecture.md. Lease and failover tests use the real Redis of the
hosted pass; the failover test starts two real `celery -A config worker -Q ami` processes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

import telephony.engine
from config.celery import app as celery_app
from telephony import hosting, linkstate, tasks
from telephony.ami.errors import PbxNotConnected
from telephony.ami.framing import Frame
from telephony.engine.tenancy import TenantMap
from telephony.runner import SNAPSHOT_ACTIONS, PbxRunner
from tests.telephony.amiserver import FakeAmi, StandInEngine, list_reply

WAIT = 10.0
ROOT = Path(__file__).resolve().parents[2]


class Published:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[Any], dict[str, Any]]] = []
        self.cond = threading.Condition()

    def __call__(self, pbx_id: str, deltas: Any, engine: Any) -> None:
        with self.cond:
            self.batches.append((pbx_id, list(deltas), engine.tenant_view(None)))
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool]) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, WAIT)

    def deltas(self) -> list[Any]:
        with self.cond:
            return [d for _, batch, _ in self.batches for d in batch]


def snapshot_server() -> FakeAmi:
    """A PBX with one registered contact, one channel and an error for QueueStatus."""
    fake = FakeAmi()
    fake.script["PJSIPShowContacts"] = lambda a: list_reply(
        a, "ContactList", [{"Endpoint": "1001"}], "ContactListComplete"
    )

    def channels(action: Frame) -> list[Any]:
        reply = list_reply(
            action, "CoreShowChannel", [{"Channel": "PJSIP/1001-1"}], "CoreShowChannelsComplete"
        )
        # A live event in the middle of the snapshot: it must reach the engine after end_resync.
        return reply[:1] + [{"Event": "Newstate", "Channel": "PJSIP/1001-1"}] + reply[1:]

    fake.script["CoreShowChannels"] = channels
    for action, done in [
        ("DeviceStateList", "DeviceStateListComplete"),
        ("ExtensionStateList", "ExtensionStateListComplete"),
        ("BridgeList", "BridgeListComplete"),
        ("ParkedCalls", "ParkedCallsComplete"),
    ]:
        fake.script[action] = lambda a, done=done: list_reply(a, "Row", [], done)
    return fake.start()


@pytest.fixture
def pbx_server() -> Iterator[FakeAmi]:
    fake = snapshot_server()
    yield fake
    fake.stop()


@pytest.fixture
def runner_factory() -> Iterator[Callable[..., tuple[PbxRunner, StandInEngine, Published]]]:
    runners: list[PbxRunner] = []

    def make(fake: FakeAmi, **options: Any) -> tuple[PbxRunner, StandInEngine, Published]:
        engine, published = StandInEngine(), Published()
        options.setdefault("backoff_initial", 0.05)
        options.setdefault("backoff_max", 0.2)
        runner = PbxRunner(
            uuid.uuid4(),
            *fake.address,
            "panel",
            "secret",
            engine=engine,
            publish=published,
            holder="t1",
            **options,
        )
        runners.append(runner)
        runner.start()
        return runner, engine, published

    yield make
    for runner in runners:
        runner.stop()


# --- PbxRunner ----------------------------------------------------------------------------------


def test_runner_snapshots_then_goes_live(
    pbx_server: FakeAmi, runner_factory: Callable[..., tuple[PbxRunner, StandInEngine, Published]]
) -> None:
    runner, engine, published = runner_factory(pbx_server)
    assert runner.link.wait_for_state("connected", WAIT)
    sent = [a["Action"] for a in pbx_server.actions if a["Action"] != "Ping"]
    assert sent == ["Login", *SNAPSHOT_ACTIONS]
    # Rows between begin and end; the live Newstate held back until after end_resync.
    assert engine.log == [
        ("feed", "FullyBooted"),  # live, before the snapshot starts
        ("begin", ""),
        ("row", "ContactList"),
        ("row", "CoreShowChannel"),
        ("end", ""),
        ("feed", "Newstate"),
    ]
    assert published.wait_for(lambda: ("delta", "resync") in published.deltas())
    assert ("delta", "Newstate") in published.deltas()
    state = linkstate.get_link_state(runner.pbx_id)
    assert (state["status"], state["holder"]) == ("connected", "t1")

    pbx_server.push({"Event": "Hangup", "Channel": "PJSIP/1001-1"})
    assert published.wait_for(lambda: ("delta", "Hangup") in published.deltas())
    assert engine.log[-1] == ("feed", "Hangup")
    # publish reads views through the runner (under its lock), not the bare engine.
    assert all(view["version"] >= 1 for _, _, view in published.batches)
    assert runner.send("Ping", timeout=WAIT).ok


def test_runner_resyncs_after_the_pbx_restarts(
    pbx_server: FakeAmi, runner_factory: Callable[..., tuple[PbxRunner, StandInEngine, Published]]
) -> None:
    runner, engine, _ = runner_factory(pbx_server)
    assert runner.link.wait_for_state("connected", WAIT)
    pbx_server.restart()
    assert pbx_server.wait_for(lambda: pbx_server.logins == 2)
    assert runner.link.wait_for_state("connected", WAIT)
    assert runner.resyncs == 2
    assert [entry for entry in engine.log if entry[0] in ("begin", "end")] == [("begin", ""), ("end", "")] * 2


def test_a_failed_snapshot_drops_the_session_and_retries(
    runner_factory: Callable[..., tuple[PbxRunner, StandInEngine, Published]],
) -> None:
    fake = snapshot_server()
    fake.script["BridgeList"] = lambda a: []  # never answers: the snapshot times out
    try:
        runner, engine, _ = runner_factory(fake, snapshot_timeout=0.2)
        assert fake.wait_for(lambda: fake.logins >= 2)
        assert runner.resyncs == 0 and runner.link.state != "connected"
        fake.script["BridgeList"] = lambda a: list_reply(a, "BridgeListItem", [], "BridgeListComplete")
        assert runner.link.wait_for_state("connected", WAIT)
        assert runner.resyncs == 1
    finally:
        fake.stop()


class NotingEngine(StandInEngine):
    """The stand-in with the Engine's `note_action`: records what it was told, and when."""

    def __init__(self, fake: FakeAmi) -> None:
        super().__init__()
        self.fake = fake
        self.noted: list[tuple[dict[str, Any], int]] = []

    def note_action(self, action: dict[str, Any]) -> list[Any]:
        # How many actions of that name the PBX had seen when the engine was told.
        self.noted.append((dict(action), len(self.fake.actions_named(str(action["Action"])))))
        return [("delta", f"noted {action['Action']}")]


def test_runner_notes_every_action_to_the_engine_before_sending_it(pbx_server: FakeAmi) -> None:
    pbx_server.script["Redirect"] = lambda a: [
        {"Response": "Success", "ActionID": a["ActionID"], "Message": "Redirect successful"}
    ]
    pbx_server.script["Originate"] = lambda a: [
        {"Response": "Success", "ActionID": a["ActionID"], "Message": "Originate successfully queued"},
        {"Event": "OriginateResponse", "ActionID": a["ActionID"], "Response": "Success", "Reason": "4"},
    ]
    engine, published = NotingEngine(pbx_server), Published()
    runner = PbxRunner(
        uuid.uuid4(), *pbx_server.address, "panel", "secret", engine=engine, publish=published, holder="t1"
    )
    runner.start()
    try:
        assert runner.link.wait_for_state("connected", WAIT)
        assert runner.send(
            "Redirect", [("Channel", "PJSIP/carrier-1"), ("Context", "internal"), ("Exten", "1002")], WAIT
        ).ok
        spy = [
            ("Channel", "PJSIP/1005"),
            ("Application", "ChanSpy"),
            ("Data", "PJSIP/1003-1,qwE"),
            ("Async", "true"),
            ("Variable", "A=1"),
            ("Variable", "B=2"),
        ]
        result = runner.send("Originate", spy, WAIT)  # Async: waits for OriginateResponse
        assert result.ok and [e["Event"] for e in result.events] == ["OriginateResponse"]
        # The snapshot is not an action of the product: only what went through send().
        assert [(a["Action"], seen) for a, seen in engine.noted] == [("Redirect", 0), ("Originate", 0)]
        redirect, originate = (a for a, _ in engine.noted)
        assert redirect["ActionID"] == pbx_server.actions_named("Redirect")[0]["ActionID"]
        assert redirect["Exten"] == "1002" and redirect["Channel"] == "PJSIP/carrier-1"
        assert originate["ActionID"] == result.events[0]["ActionID"]
        assert originate["Data"] == "PJSIP/1003-1,qwE" and originate["Variable"] == ["A=1", "B=2"]
        # What note_action returned is published; the OriginateResponse was fed live too.
        assert published.wait_for(lambda: ("delta", "noted Redirect") in published.deltas())
        assert ("delta", "noted Originate") in published.deltas()
        assert ("feed", "OriginateResponse") in engine.log
        # await_event=None: the queued reply is enough.
        assert runner.send("Originate", spy, WAIT, await_event=None).events == []
    finally:
        runner.stop()


def test_an_engine_without_note_action_still_sends(
    pbx_server: FakeAmi, runner_factory: Callable[..., tuple[PbxRunner, StandInEngine, Published]]
) -> None:
    runner, _, _ = runner_factory(pbx_server)
    assert runner.link.wait_for_state("connected", WAIT)
    assert runner.send("Ping", timeout=WAIT).ok


# --- embedded mode and the transport task ----------------------------------------------------


@pytest.fixture
def stand_in_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until telephony.engine exports Engine/TenantMap, give for_server the stand-in."""
    if not hasattr(telephony.engine, "Engine"):
        monkeypatch.setattr(telephony.engine, "Engine", StandInEngine, raising=False)
    if not hasattr(telephony.engine, "TenantMap"):
        monkeypatch.setattr(telephony.engine, "TenantMap", TenantMap, raising=False)


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.mark.django_db
def test_embedded_mode_runs_every_enabled_pbx_and_sends_through_it(
    pbx_server: FakeAmi, stand_in_engine: None, eager: None
) -> None:
    from telephony.models import PbxServer

    host, port = pbx_server.address
    on = PbxServer.objects.create(name="on", host=host, port=port, username="panel", secret="secret")
    off = PbxServer.objects.create(
        name="off", host=host, port=port, username="panel", secret="x", enabled=False
    )
    try:
        runners = hosting.start_embedded()
        assert [r.pbx_id for r in runners] == [str(on.pk)]
        runner = hosting.runner_for(on.pk)
        assert runner is runners[0] and hosting.runner_for(off.pk) is None
        assert runner.link.wait_for_state("connected", WAIT)
        result = tasks.send_action(on.pk, "Ping", [], timeout=WAIT)
        assert result["ok"] and result["response"]["Ping"] == "Pong"
        refused = tasks.send_action(on.pk, "NoSuchAction", [], timeout=WAIT)
        assert refused["ok"] is False and "Invalid/unknown command" in refused["message"]
        with pytest.raises(PbxNotConnected):
            tasks.send_action(off.pk, "Ping", [], timeout=WAIT)
    finally:
        hosting.stop_all()
    assert hosting.runner_for(on.pk) is None
    assert linkstate.get_link_state(on.pk)["status"] == "disconnected"


def test_send_action_without_any_holder_is_not_connected(hosted: str) -> None:
    # A real broker and no worker on ami.<id>: the message expires, the caller is told so.
    with pytest.raises(PbxNotConnected):
        tasks.send_action(uuid.uuid4(), "Ping", [], timeout=0.5)


class Captured:
    """What send_action asked Celery for, with a canned answer (no broker needed)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []
        self.waits: list[float] = []

    def apply_async(self, **options: Any) -> Captured:
        self.calls.append(options)
        return self

    def get(self, timeout: float, **_: Any) -> dict[str, Any]:
        self.waits.append(timeout)
        return self.answer

    def forget(self) -> None:
        pass


def test_send_action_expires_after_the_queueing_but_waits_while_the_phone_rings(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.AMI_ACTION_TIMEOUT = 8.0
    captured = Captured({"response": {}, "events": [], "ok": True, "message": ""})
    monkeypatch.setattr(tasks, "ami_send", captured)
    pbx_id = uuid.uuid4()
    originate = [["Channel", "PJSIP/1001"], ["Exten", "1002"], ["Async", "true"], ["Timeout", "30000"]]
    tasks.send_action(pbx_id, "Originate", originate, timeout=35.0)
    (call,) = captured.calls
    args = call["args"]
    assert call["queue"] == f"ami.{pbx_id}" and call["expires"] == 8.0  # queueing only
    assert args[1] == "Originate" and args[3] == 35.0 and args[4] == "OriginateResponse"
    assert captured.waits == [8.0 + 35.0 + 1]
    # With the default (action) timeout, the wait still covers the Originate's own Timeout.
    tasks.send_action(pbx_id, "Originate", originate[:3] + [["Timeout", "45000"]])
    assert captured.calls[-1]["expires"] == 8.0 and captured.calls[-1]["args"][3] == 50.0
    # Anything else: expires and wait as before, no event awaited.
    tasks.send_action(pbx_id, "Ping", [], timeout=2.0)
    assert captured.calls[-1]["expires"] == 2.0 and captured.calls[-1]["args"][3:] == (2.0, None)
    assert captured.waits[-1] == 2 * 2.0 + 1
    # A synchronous Originate answers when done: nothing to await.
    tasks.send_action(pbx_id, "Originate", originate[:2], timeout=2.0)
    assert captured.calls[-1]["args"][4] is None


# --- the lease ----------------------------------------------------------------------------------


@pytest.fixture
def rdb(hosted: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(hosted)
    yield client
    for key in client.scan_iter(hosting.LEASE_KEY.format("*")):
        client.delete(key)


def test_lease_is_exclusive_renewed_only_by_its_holder_and_released(rdb: redis.Redis) -> None:
    pbx_id = uuid.uuid4()
    first = hosting.Lease(rdb, pbx_id, "w1", 60_000)
    second = hosting.Lease(rdb, pbx_id, "w2", 60_000)
    assert first.acquire() and not second.acquire()
    assert first.renew() and not second.renew()
    assert hosting.lease_holder(rdb, pbx_id) == "w1"
    second.release()  # not its lease: a no-op
    assert hosting.lease_holder(rdb, pbx_id) == "w1"
    rdb.delete(hosting.LEASE_KEY.format(pbx_id))  # the lease expired while w1 stalled
    assert second.acquire()
    assert not first.renew(), "a stalled holder must not renew the new holder's lease"
    second.release()
    assert hosting.lease_holder(rdb, pbx_id) is None


class FakePbx:
    def __init__(self) -> None:
        self.pk = uuid.uuid4()


def test_lease_keepers_hand_over_on_release_and_on_loss(rdb: redis.Redis) -> None:
    pbx = FakePbx()
    events: list[tuple[str, str]] = []

    def keeper(name: str) -> hosting.LeaseKeeper:
        return hosting.LeaseKeeper(
            rdb,
            name,
            lease_seconds=30,
            on_acquire=lambda p: events.append((name, f"acquire {p.pk}")),
            on_lose=lambda pbx_id: events.append((name, f"lose {pbx_id}")),
            servers=lambda: [pbx],
        )

    one, two = keeper("w1"), keeper("w2")
    one.tick()
    two.tick()
    one.tick()  # renews, does not start twice
    assert events == [("w1", f"acquire {pbx.pk}")]
    one.stop()  # shutdown: stop the link and release at once
    two.tick()
    assert events[1:] == [("w1", f"lose {pbx.pk}"), ("w2", f"acquire {pbx.pk}")]
    rdb.set(hosting.LEASE_KEY.format(pbx.pk), "someone-else")  # w2 stalled past its lease
    two.tick()
    assert events[-1] == ("w2", f"lose {pbx.pk}") and two.held == {}


def test_a_keeper_that_cannot_reach_redis_stops_its_link_before_the_lease_ends(rdb: redis.Redis) -> None:
    pbx = FakePbx()
    lost: list[str] = []
    keeper = hosting.LeaseKeeper(
        rdb, "w1", lease_seconds=3, on_acquire=lambda p: None, on_lose=lost.append, servers=lambda: [pbx]
    )
    keeper.tick()
    assert list(keeper.held) == [str(pbx.pk)]
    keeper._valid_until[str(pbx.pk)] = time.monotonic() + keeper.interval / 2  # renewals kept failing
    keeper._expire_overdue()
    assert lost == [str(pbx.pk)] and keeper.held == {}


# --- failover between two real workers -----------------------------------------------------------

WORKER = """
import sys
import telephony.engine
from telephony.engine.tenancy import TenantMap
from tests.telephony.amiserver import StandInEngine
if not hasattr(telephony.engine, "Engine"):
    telephony.engine.Engine = StandInEngine
if not hasattr(telephony.engine, "TenantMap"):
    telephony.engine.TenantMap = TenantMap
from celery.bin.celery import main
sys.argv = ["celery", "-A", "config", "worker", "-Q", "ami", "--pool=threads", "-c", "2",
            "--hostname", sys.argv[1], "--without-gossip", "--without-mingle", "-l", "info"]
main()
"""


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(
    hosted: str, transactional_db: None, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": hosted,
        "AMI_LEASE_SECONDS": "3",
        "PYTHONPATH": str(ROOT),
    }

    def start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, f"{name}@test"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log_path = tmp_path / f"{name}.log"  # type: ignore[attr-defined]
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
    for proc in started:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll a condition owned by another process (Redis, a worker's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _login_holders(fake: FakeAmi) -> list[str]:
    """Who logged in, from the Login ActionIDs: `pbx-<id>@<holder>-<random>-<n>`."""
    return [
        re.sub(r"-[0-9a-f]{8}-\d+$", "", str(a["ActionID"])).split("@", 1)[1]
        for a in fake.actions_named("Login")
    ]


def test_failover_between_two_workers(
    workers: Callable[[str], subprocess.Popen], rdb: redis.Redis, pbx_server: FakeAmi
) -> None:
    from telephony.models import PbxServer

    host, port = pbx_server.address
    pbx = PbxServer.objects.create(name="failover", host=host, port=port, username="panel", secret="secret")
    procs = {name: workers(name) for name in ("w1", "w2")}
    for proc in procs.values():
        assert _wait(lambda p=proc: b"competes for PBX leases" in p.log_path.read_bytes(), 60), (
            proc.log_path.read_text()
        )
    assert pbx_server.wait_for(lambda: pbx_server.logins == 1, 30)
    holder = hosting.lease_holder(rdb, pbx.pk)
    assert holder is not None and _login_holders(pbx_server) == [holder]
    name = holder.split("@", 1)[0]
    assert holder.split("/")[1] == str(procs[name].pid)

    # Both compete for a whole lease period: still exactly one link, one holder.
    pbx_server.wait_for(lambda: pbx_server.logins > 1, 3.5)
    assert pbx_server.logins == 1 and hosting.lease_holder(rdb, pbx.pk) == holder
    assert pbx_server.wait_for(lambda: len(pbx_server._clients) == 1)

    # Operations reach the holder through its queue ami.<pbx_id>.
    assert tasks.send_action(pbx.pk, "Ping", [], timeout=5)["response"]["Ping"] == "Pong"

    killed_at = time.monotonic()
    procs[name].send_signal(signal.SIGKILL)
    assert pbx_server.wait_for(lambda: pbx_server.logins == 2, 30), "the other worker never took over"
    takeover = time.monotonic() - killed_at
    new_holder = hosting.lease_holder(rdb, pbx.pk)
    other = "w2" if name == "w1" else "w1"
    assert new_holder is not None and new_holder.startswith(f"{other}@")
    assert _login_holders(pbx_server) == [holder, new_holder]
    assert tasks.send_action(pbx.pk, "Ping", [], timeout=5)["ok"]
    print(f"\nfailover: new holder logged in {takeover:.2f} s after SIGKILL of the old one (lease 3 s)")
    assert takeover < 4 * 3, f"takeover took {takeover:.1f} s, more than four lease periods"

    # A clean shutdown releases the lease at once.
    procs[other].terminate()
    procs[other].wait(30)
    assert hosting.lease_holder(rdb, pbx.pk) is None


# --- the runner with the real engine against the simulator ---------------------------------------


def test_runner_with_the_engine_follows_the_simulator_across_a_restart() -> None:
    from telephony.engine import Engine
    from telephony.simulator.simulator import Simulator

    tenant = uuid.uuid4()
    engine = Engine(tenants=TenantMap(endpoints={str(e): tenant for e in range(1001, 1007)}))
    published = Published()
    sim = Simulator(answer_delay=None)
    port = sim.start()
    runner = PbxRunner(
        uuid.uuid4(), "127.0.0.1", port, "panel", "panelsecret", engine=engine, publish=published,
        backoff_initial=0.05, backoff_max=0.2,
    )  # fmt: skip
    runner.start()
    try:
        assert runner.link.wait_for_state("connected", WAIT)
        with runner.lock:
            assert engine.colour("1001") == "white" and engine.colour("1006") == "light-grey"
        sim.call("1001", "1002")
        assert published.wait_for(lambda: any(d.kind == "call" for d in published.deltas()))
        assert published.wait_for(
            lambda: runner.tenant_view(tenant)["endpoints"]["1002"]["colour"] == "yellow"
        )

        sim.stop(shutdown=True)  # trace 26a: Hangups, Shutdown, the socket closes
        sim = Simulator(answer_delay=None)
        sim.start(port=port)  # the PBX is back on the same port
        assert _wait(lambda: runner.resyncs == 2, WAIT)
        assert runner.link.logins == 2
        with runner.lock:
            assert engine.colour("1001") == "white" and engine.colour("1002") == "white"
            assert runner.tenant_view(tenant)["calls"] == {}
    finally:
        runner.stop()
        sim.stop()
