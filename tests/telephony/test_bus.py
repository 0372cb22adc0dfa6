"""telephony.bus: engine deltas → live views, tenant groups, call history.

A real capture (trace 02: 1001 calls 1002, answered, hung up) runs through the real framing
and engine, with 1001/1002 belonging to acme and 1003-1006 to globex on the same PBX. The
channel layer is the real one of the pass (in-memory embedded, Redis hosted).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import connections

from accounts.scoping import dangerously_all_tenants
from telephony import bus, livestate
from telephony.ami.framing import parse_stream
from telephony.engine import Engine, TenantMap
from telephony.models import CallRecord, Direction, Disposition
from tests.factories import make_pbx

TRACE = Path(__file__).resolve().parents[3] / "shared" / "ami-traces" / "02-internal-call.ami"

pytestmark = pytest.mark.django_db(transaction=True)


def _closing_connections(run: Any) -> None:
    """Run as the link thread does; close that thread's database connection afterwards."""
    try:
        run()
    finally:
        connections.close_all()


async def _listen(groups: list[str], run: Any) -> dict[str, list[dict[str, Any]]]:
    """Join each group on its own channel, run the publishing code, return what each got."""
    layer = get_channel_layer()
    channels = {}
    for group in groups:
        channels[group] = await layer.new_channel()
        await layer.group_add(group, channels[group])
    await asyncio.to_thread(_closing_connections, run)
    received: dict[str, list[dict[str, Any]]] = {group: [] for group in groups}
    for group, channel in channels.items():
        while True:
            try:
                received[group].append(await asyncio.wait_for(layer.receive(channel), 0.2))
            except TimeoutError:
                break
        await layer.group_discard(group, channel)
    return received


def test_a_call_reaches_only_its_tenant_and_becomes_history(acme, globex, manager, agent) -> None:
    pbx = make_pbx("Shared", tenants=(acme, globex))  # manager is 1001, agent 1002
    tenants = TenantMap(
        endpoints={"1001": acme.pk, "1002": acme.pk, **{str(e): globex.pk for e in range(1003, 1007)}}
    )
    engine = Engine(tenants=tenants)
    acme_group, globex_group = bus.tenant_group(acme.pk), bus.tenant_group(globex.pk)

    def replay() -> None:
        for frame in parse_stream(TRACE.read_bytes(), wanted_events=Engine.WANTED_EVENTS):
            deltas = engine.feed(frame)
            if deltas:
                bus.publish(pbx.pk, deltas, engine)

    received = asyncio.run(_listen([acme_group, globex_group], replay))

    acme_changes = [change for message in received[acme_group] for change in message["changes"]]
    assert ["call", "call_ended"] <= sorted({kind for kind, _ in acme_changes})
    assert all(message["type"] == "live.changed" and message["version"] for message in received[acme_group])
    # globex's phones only registered in the snapshot: no call of acme's ever reaches them.
    assert not any(kind.startswith("call") for m in received[globex_group] for kind, _ in m["changes"])
    assert livestate.tenant_view(acme.pk)["calls"] == {}
    assert livestate.tenant_view(globex.pk)["calls"] == {}

    with dangerously_all_tenants():
        (record,) = CallRecord.objects.all()
        assert record.tenant_id == acme.pk and record.pbx_id == pbx.pk
        assert (record.direction, record.disposition) == (Direction.INTERNAL, Disposition.ANSWERED)
        assert (record.caller, record.callee) == ("1001", "1002")
        assert set(record.users.all()) == {manager, agent}
        assert record.answered_at is not None and record.ended_at >= record.answered_at


def test_recording_the_same_call_twice_keeps_one_record(acme) -> None:
    pbx = make_pbx("Own", tenants=(acme,))
    summary = {
        "linkedid": "1763836237.36",
        "direction": "outbound",
        "disposition": "answered",
        "caller": "1001",
        "callee": "+4930123456",
        "parties": ["1001", "+4930123456"],
        "started": 1763836237.0,
        "answered": 1763836240.0,
        "ended": 1763836290.0,
    }
    bus.record_call(pbx.pk, acme.pk, summary)
    bus.record_call(pbx.pk, acme.pk, summary)  # a resync may end the same call again
    with dangerously_all_tenants():
        assert CallRecord.objects.count() == 1
        assert CallRecord.objects.get().duration_seconds == 50
