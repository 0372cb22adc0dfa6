"""GET /health/: database, Redis and every PBX link, as JSON; 503 when a service is down."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.test import Client

from telephony import linkstate
from tests.factories import make_pbx


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_health_reports_database_redis_and_each_pbx(client: Client) -> None:
    up, down, off = make_pbx("Up"), make_pbx("Down"), make_pbx("Off")
    off.enabled = False
    off.save()
    linkstate.set_link_state(up.pk, "connected", holder="worker-1")
    linkstate.set_link_state(down.pk, "auth_failed", "authentication failed")

    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["engine"] == (
        "postgresql" if "postgres" in settings.DATABASES["default"]["ENGINE"] else "sqlite"
    )
    if settings.REDIS_URL:
        assert body["redis"] == {"status": "ok"}
    else:
        assert body["redis"]["status"].startswith("not configured")
    pbx = body["pbx"]
    assert pbx[str(up.pk)] == {"status": "connected"}
    assert pbx[str(down.pk)] == {"status": "auth_failed"}
    assert pbx[str(off.pk)] == {"status": "disabled"}


@pytest.mark.django_db
def test_only_a_system_owner_sees_names_holders_and_errors(client: Client, system_owner, owner) -> None:
    pbx = make_pbx("Shared PBX")
    linkstate.set_link_state(pbx.pk, "auth_failed", "authentication failed", holder="worker-1")
    client.force_login(owner)
    assert client.get("/health/").json()["pbx"][str(pbx.pk)] == {"status": "auth_failed"}
    client.force_login(system_owner)
    state = client.get("/health/").json()["pbx"][str(pbx.pk)]
    assert state["name"] == "Shared PBX" and state["holder"] == "worker-1"
    assert state["detail"] == "authentication failed"


@pytest.mark.django_db
def test_a_pbx_nobody_holds_is_unknown(client: Client) -> None:
    pbx = make_pbx("Nobody")
    assert client.get("/health/").json()["pbx"][str(pbx.pk)]["status"] == "unknown"


@pytest.mark.django_db
def test_unreachable_redis_makes_it_degraded(client: Client, settings: object) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/1"  # type: ignore[attr-defined]
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["redis"]["status"] == "error"
    assert body["database"]["status"] == "ok"


@pytest.mark.django_db
def test_health_is_get_only(client: Client) -> None:
    assert client.post("/health/").status_code == 405
