"""The link outlives a PBX restart: resynced state within 5 s, and no ghost of the old calls.

Real parts only: the simulator over TCP, the PbxRunner with its AmiLink on default timings,
the real Engine. The PBX dies without a word (no Hangup, no Shutdown: a crash or a cable),
comes back on the same port with other calls under way, and the state must be what the new
PBX reports, not what the old one left behind (issue 3, "Done when").
"""

from __future__ import annotations

import time
import uuid

from telephony.engine import Engine, TenantMap
from telephony.runner import PbxRunner
from telephony.simulator import PbxLayout, Simulator

RESYNC_DEADLINE = 5.0


def _until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_silent_pbx_death_and_return_resyncs_within_five_seconds() -> None:
    tenant = uuid.uuid4()
    engine = Engine(tenants=TenantMap(endpoints={str(e): tenant for e in range(1001, 1007)}))
    layout = PbxLayout.demo(extensions=range(1001, 1007))
    old = Simulator(layout=layout, answer_delay=None)
    port = old.start()
    runner = PbxRunner(uuid.uuid4(), "127.0.0.1", port, "panel", "panelsecret", engine=engine)
    runner.start()
    new = Simulator(layout=layout, answer_delay=None)

    def colours() -> dict[str, str]:
        with runner.lock:
            return {ext: engine.colour(ext) for ext in ("1001", "1002", "1003", "1004")}

    try:
        assert runner.link.wait_for_state("connected", 10)
        old.call("1001", "1002")
        old.answer("1002")
        assert _until(lambda: colours()["1001"] == "dark-green" == colours()["1002"], 5)

        old.stop()  # sockets close: no Hangup, no Shutdown
        new.start(port=port)
        back = time.monotonic()
        new.call("1003", "1004")  # the PBX that comes back has a call of its own, ringing

        expected = {"1001": "white", "1002": "white", "1003": "yellow", "1004": "yellow"}
        assert _until(lambda: colours() == expected, RESYNC_DEADLINE), colours()
        took = time.monotonic() - back
        assert took <= RESYNC_DEADLINE
        with runner.lock:
            calls = engine.tenant_view(tenant)["calls"]
        assert [sorted(p["endpoint"] for p in call["parties"]) for call in calls.values()] == [
            ["1003", "1004"]
        ]
    finally:
        runner.stop()
        new.stop()
        old.stop()


def test_a_live_link_reconciles_and_learns_extensions_added_since() -> None:
    tenant = uuid.uuid4()
    known = {"1001": tenant}  # 1002 becomes a user of the tenant only later (added in admin)
    engine = Engine(tenants=TenantMap(endpoints=dict(known)))
    sim = Simulator(layout=PbxLayout.demo(extensions=range(1001, 1004)), answer_delay=None)
    port = sim.start()
    runner = PbxRunner(
        uuid.uuid4(), "127.0.0.1", port, "panel", "panelsecret", engine=engine,
        tenant_map=lambda: TenantMap(endpoints=dict(known)), reconcile_every=0.2,
    )  # fmt: skip
    runner.start()
    try:
        assert runner.link.wait_for_state("connected", 10)
        with runner.lock:
            assert "1002" not in engine.tenant_view(tenant)["endpoints"]
        known["1002"] = tenant
        before = runner.resyncs
        assert _until(lambda: runner.resyncs >= before + 1, 5)
        with runner.lock:
            assert engine.tenant_view(tenant)["endpoints"]["1002"]["colour"] == "white"
        assert runner.link.logins == 1  # reconciled on the live link, not by reconnecting
    finally:
        runner.stop()
        sim.stop()
