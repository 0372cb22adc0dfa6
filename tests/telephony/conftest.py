"""Fixtures of the telephony tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telephony.simulator.testing import Client


@pytest.fixture
def ami(sim) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    """A logged-in plain AMI client of the module's `sim` fixture."""
    client = Client(sim.port)
    assert client.login()["Response"] == "Success"
    yield client
    client.close()
