"""Fixtures of the operation tests (no tests here; imported by test_operations*.py and test_api*.py): a real simulator on a TCP port, a real PbxRunner holding its
link in this process, and the factories' tenants and personas.

Celery runs eagerly here in both passes (the link holder is this process); the hosted pass
adds a test through a real worker on real Redis (test_operations.py) and the bench.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from telephony import hosting, livestate
from telephony.models import PbxServer, PbxTenant
from telephony.simulator import Simulator
from telephony.simulator.layout import PbxLayout
from tests.factories import make_pbx

# The factories' personas have extensions 1000-1003 (acme); the simulator gets 1000-1006.
EXTENSIONS = range(1000, 1007)


@dataclass
class Pbx:
    sim: Simulator
    server: PbxServer
    tenant_id: Any

    def view(self) -> dict[str, Any]:
        return livestate.tenant_view(self.tenant_id) or {}

    def wait_view(self, predicate: Any, timeout: float = 3.0) -> Any:
        """Wait until the published live view satisfies `predicate` (returns its value)."""
        return self.sim.wait_until(lambda: predicate(self.view()), timeout)

    def call_of(self, extension: str, timeout: float = 3.0) -> str:
        """The live call id of an extension, once the engine has published it."""

        def find(view: dict[str, Any]) -> str | None:
            calls = view.get("endpoints", {}).get(extension, {}).get("calls") or []
            return calls[0] if calls else None

        return self.wait_view(find, timeout)

    def sent(self, name: str | None = None) -> list[dict[str, Any]]:
        """Actions the simulator received after the link's snapshot (what the product sent)."""
        snapshot = {
            "Login",
            "PJSIPShowContacts",
            "DeviceStateList",
            "ExtensionStateList",
            "CoreShowChannels",
            "ParkedCalls",
            "QueueStatus",
            "BridgeList",
            "BridgeInfo",
            "Ping",
            "Events",
            "Status",
        }
        return [
            a
            for a in self.sim.received_actions
            if a.get("Action") not in snapshot and (name is None or a.get("Action") == name)
        ]


def start_pbx(
    tenant: Any, *, answer_delay: float | None, call_waiting: bool = False
) -> tuple[Simulator, PbxServer]:
    layout = PbxLayout.demo(extensions=EXTENSIONS, call_waiting=call_waiting)
    sim = Simulator(layout=layout, answer_delay=answer_delay, seed=1)
    sim.start("127.0.0.1", 0)
    server = PbxServer.objects.create(
        name=f"sim-{sim.port}", host="127.0.0.1", port=sim.port, username="panel", secret="panelsecret"
    )
    PbxTenant.objects.create(pbx=server, tenant=tenant)
    return sim, server


@pytest.fixture
def eager_celery() -> Iterator[None]:
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def _running(
    request: pytest.FixtureRequest, acme: Any, answer_delay: float | None, call_waiting: bool = False
) -> Iterator[Pbx]:
    sim, server = start_pbx(acme, answer_delay=answer_delay, call_waiting=call_waiting)
    livestate.clear_tenant_view(acme.pk)
    hosting.start_runner(server)
    pbx = Pbx(sim=sim, server=server, tenant_id=acme.pk)
    try:
        pbx.wait_view(lambda v: len(v.get("endpoints", {})) >= 4, 5.0)
        yield pbx
    finally:
        hosting.stop_runner(server.pk)
        sim.stop()
        livestate.clear_tenant_view(acme.pk)


@pytest.fixture
def pbx(
    request: pytest.FixtureRequest,
    eager_celery: None,
    acme: Any,
    owner: User,
    manager: User,
    agent: User,
    support: User,
) -> Iterator[Pbx]:
    """Phones ring until the test answers them (`pbx.sim.answer(ext)`)."""
    yield from _running(request, acme, answer_delay=None)


@pytest.fixture
def pbx_auto(
    request: pytest.FixtureRequest,
    eager_celery: None,
    acme: Any,
    owner: User,
    manager: User,
    agent: User,
    support: User,
) -> Iterator[Pbx]:
    """Phones and outside parties answer at once; a phone on a call takes a second one (call
    waiting), so a supervisor on a call can still be rung to listen in."""
    yield from _running(request, acme, answer_delay=0.0, call_waiting=True)


@pytest.fixture
def globex_pbx(globex: Any, charlie: User) -> PbxServer:
    """Globex's PBX row; nobody holds its link (its calls never show in acme's views)."""
    return make_pbx("globex PBX", tenants=(globex,))


class Background:
    """Run an operation on a thread of its own (the console's request waiting for the PBX)."""

    def __init__(self, fn: Callable[..., Any], **kwargs: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(fn, kwargs), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        try:
            self.result = fn(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            connection.close()  # this thread's own database connection
            self.done.set()

    def join(self, timeout: float = 40.0) -> Any:
        assert self.done.wait(timeout), "the operation did not return"
        if self.error is not None:
            raise self.error
        return self.result
