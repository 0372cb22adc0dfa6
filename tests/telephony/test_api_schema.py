"""Schemathesis against /api/v1/openapi.json: no 5xx, no response that breaks its schema.

The API runs in-process (WSGI) with a real simulator link behind it, so operations reach the
PBX (a PBX that is down would rightly answer 503, which is not what this run hunts for); the
key is an owner-like service user with a default extension, so most operations get past the
rights check and are really tried.
"""

# ruff: noqa: F811 - pytest fixtures imported from test_operations_env are parameters here
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts.models import Role
from tests.factories import *  # noqa: F403 - the personas and tenants are fixtures
from tests.factories import make_account, make_api_key
from tests.telephony.test_operations_env import Pbx, eager_celery, pbx_auto  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture
def api_key(pbx_auto: Pbx, acme: Any) -> str:
    key, raw = make_api_key(acme, "schemathesis")
    key.user.role = Role.OWNER
    key.user.save()
    make_account(key.user, "1006", is_default=True)
    pbx_auto.sim.call("1002", "1003")  # something live to act on
    return raw


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, api_key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)
