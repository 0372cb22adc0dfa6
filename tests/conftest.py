"""Shared fixtures.

`make test` runs the suite twice: embedded (SQLite, in-memory channel layer, eager Celery) and
hosted (this machine's PostgreSQL and Redis, REQUIRE_SERVICES=1). In the hosted pass a missing
service stops the run with an error: it is never skipped.
"""

from __future__ import annotations

import os

import pytest
from django_scopes import scopes_disabled

from tests.factories import *  # noqa: F403 - acme/globex tenants and the personas, for every test


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("REQUIRE_SERVICES") != "1":
        return
    import psycopg
    import redis

    problems = []
    try:
        url = os.environ["DATABASE_URL"]
        psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"PostgreSQL at DATABASE_URL is not reachable: {exc}")
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis at REDIS_URL is not reachable: {exc}")
    if problems:
        pytest.exit("hosted test pass needs its services:\n  " + "\n  ".join(problems), returncode=3)


@pytest.fixture
def hosted() -> str:
    """The Redis URL of the hosted pass; tests of Redis-only paths skip in the embedded pass."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("hosted path: runs in the PostgreSQL + Redis pass of make test")
    return url


@pytest.fixture
def no_scope():
    """Set-up code that creates rows of several tenants runs outside any tenant scope."""
    with scopes_disabled():
        yield
