"""Operation round trip: API request → Celery over Redis → link holder → AMI on the wire → result.

Everything is real and on this machine: the Django stack (test client, the API key auth, the
service, the audit row), a Celery worker thread consuming the PBX's queue `ami.<pbx_id>` from
Redis, the PbxRunner holding the link in that worker, and the simulator answering over TCP.
Measured: the wall time of `POST /api/v1/dnd` (Setvar) and `POST /api/v1/queues/support/pause`
(QueuePause), alternating on/off. Goal: p99 < 50 ms.

Uses a throw-away test database (Django's test-database machinery) and Redis db
`BENCH_REDIS_URL` (default redis://127.0.0.1:6379/5).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

SAMPLES = int(os.environ.get("BENCH_OPERATIONS_SAMPLES", "400"))
WARMUP = 30
GOAL_P99_MS = 50.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"


def run() -> str:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import redis

    url = _redis_url()
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - the bench reports, it does not crash
        return f"## Operations round trip\n\nSkipped: Redis at {url} is not reachable ({exc}).\n"
    from django.test.utils import (
        setup_databases,
        setup_test_environment,
        teardown_databases,
        teardown_test_environment,
    )

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        return _measure(url)
    finally:
        teardown_databases(old, verbosity=0)
        teardown_test_environment()


def _measure(url: str) -> str:
    from celery.contrib.testing.worker import start_worker
    from django.test import Client

    from accounts.models import Role
    from config.celery import app
    from telephony import hosting, livestate
    from telephony.models import PbxServer, PbxTenant
    from telephony.simulator import Simulator
    from telephony.simulator.layout import PbxLayout
    from tests.factories import make_account, make_api_key, make_tenant, make_user

    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    sim = Simulator(layout=PbxLayout.demo(extensions=range(1001, 1007)), answer_delay=0.0, seed=1)
    sim.start("127.0.0.1", 0)
    tenant = make_tenant("Bench Ltd", "bench")
    make_user("bench-agent", tenant=tenant, extension="1003")
    server = PbxServer.objects.create(
        name="bench", host="127.0.0.1", port=sim.port, username="panel", secret="panelsecret"
    )
    PbxTenant.objects.create(pbx=server, tenant=tenant)
    key, raw = make_api_key(tenant, "bench")
    key.user.role = Role.OWNER
    key.user.save()
    make_account(key.user, "1005", is_default=True)
    hosting.start_runner(server)
    client = Client()
    auth = {"Authorization": f"Bearer {raw}"}
    timings: dict[str, list[float]] = {"dnd (Setvar)": [], "queue pause (QueuePause)": []}
    errors = 0
    try:
        sim.wait_until(lambda: (livestate.tenant_view(tenant.pk) or {}).get("queues"), 10)
        with start_worker(
            app, queues=[f"ami.{server.pk}"], perform_ping_check=False, pool="solo", shutdown_timeout=5
        ):
            for i in range(WARMUP + SAMPLES):
                requests: list[tuple[str, str, dict[str, Any]]] = [
                    ("dnd (Setvar)", "/api/v1/dnd", {"on": i % 2 == 0}),
                    (
                        "queue pause (QueuePause)",
                        f"/api/v1/queues/support/{'pause' if i % 2 == 0 else 'unpause'}",
                        {"extension": "1003"},
                    ),
                ]
                for name, path, body in requests:
                    start = time.perf_counter()
                    response = client.post(path, body, content_type="application/json", headers=auth)
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status_code != 200:
                        errors += 1
                    elif i >= WARMUP:
                        timings[name].append(elapsed)
        wire = sum(1 for a in sim.received_actions if a.get("Action") in ("Setvar", "QueuePause"))
    finally:
        hosting.stop_runner(server.pk)
        sim.stop()
    lines = [
        "## Operations round trip",
        "",
        "API request (`django.test.Client`, API key auth, service, audit row) → Celery task over Redis →",
        "worker thread holding the PBX link → AMI action over TCP to the simulator → response → result",
        f"back over Redis. {SAMPLES} requests per operation after {WARMUP} warm-up rounds; Redis {url}.",
        "",
        "| operation | n | p50 ms | p99 ms | max ms | goal p99 |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in timings.items():
        if not values:
            lines.append(f"| {name} | 0 | - | - | - | < {GOAL_P99_MS:g} ms |")
            continue
        p99 = _percentile(values, 0.99)
        verdict = "met" if p99 < GOAL_P99_MS else "MISSED"
        lines.append(
            f"| {name} | {len(values)} | {statistics.median(values):.1f} | {p99:.1f} | {max(values):.1f} "
            f"| < {GOAL_P99_MS:g} ms: {verdict} |"
        )
    lines += ["", f"Non-200 answers: {errors}. Actions seen on the simulator's wire: {wire}.", ""]
    return "\n".join(lines)
