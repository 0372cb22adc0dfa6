"""The JSON API: keys, bad input, live state, history and click-to-call against the simulator."""

# ruff: noqa: F811 - pytest fixtures imported from test_operations_env are parameters here
from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.scoping import dangerously_all_tenants
from telephony.models import AuditEntry
from tests.factories import *  # noqa: F403 - the personas and tenants are fixtures
from tests.factories import make_account, make_api_key, make_call_record
from tests.telephony.test_operations import internal_call
from tests.telephony.test_operations_env import Background, Pbx, eager_celery, pbx  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def audit_rows(**filters: Any) -> list[AuditEntry]:
    with dangerously_all_tenants():
        return list(AuditEntry.objects.filter(**filters))


def test_no_key_wrong_key_and_revoked_key_are_401(client: Client, acme: Any) -> None:
    key, raw = make_api_key(acme)
    assert client.get("/api/v1/state").status_code == 401
    wrong = client.get("/api/v1/state", headers=bearer("sb_nope"))
    assert wrong.status_code == 401 and wrong.json()["error_id"] == "unauthenticated"
    assert client.get("/api/v1/state", headers=bearer(raw)).status_code == 200
    with dangerously_all_tenants():
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    revoked = client.get("/api/v1/state", headers=bearer(raw))
    assert revoked.status_code == 401 and revoked.json()["error_id"] == "unauthenticated"
    assert [r.result for r in audit_rows(operation="api_auth")] == ["denied"]


def test_a_body_that_is_not_json_is_400_and_audited(client: Client, acme: Any) -> None:
    _key, raw = make_api_key(acme)
    response = client.post(
        "/api/v1/calls/originate", "{to: 1002", content_type="application/json", headers=bearer(raw)
    )
    assert response.status_code == 400
    assert response.json() == {
        "error_id": "bad-request",
        "message": "The request body is not valid JSON.",
        "details": {},
    }
    assert [r.result for r in audit_rows(operation="call_originate")] == ["invalid"]


def test_a_missing_or_mistyped_field_is_422_with_the_field(client: Client, acme: Any) -> None:
    _key, raw = make_api_key(acme)
    response = client.post(
        "/api/v1/calls/originate", {"to": 1002}, content_type="application/json", headers=bearer(raw)
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error_id"] == "invalid-input" and body["details"]["fields"][0]["field"] == "to"


def test_a_hostile_destination_is_422_and_never_reaches_the_pbx(
    pbx: Pbx, client: Client, acme: Any, agent: User
) -> None:
    key, raw = make_api_key(acme)
    make_account(key.user, "1005", is_default=True)
    for hostile in (
        "100&PJSIP/x",
        "1001,tt",
        "1001\r\nAction: Hangup",
        "Local/1001@internal",
        "١٠٠١",
        "9" * 5000,
    ):
        response = client.post(
            "/api/v1/calls/originate", {"to": hostile}, content_type="application/json", headers=bearer(raw)
        )
        assert response.status_code == 422 and response.json()["error_id"] == "invalid-destination"
    assert pbx.sent() == []
    assert len(audit_rows(operation="call_originate", result="invalid")) == 6


def test_click_to_call_rings_from_then_to(pbx: Pbx, client: Client, acme: Any, agent: User) -> None:
    """`POST /calls/originate {"from", "to"}`: a CRM key calling on behalf of the agent."""
    key, raw = make_api_key(acme, "CRM")
    key.user.role = "manager"
    key.user.department = agent.department
    key.user.save()
    # The answer comes once the `from` phone answered (its OriginateResponse).
    pending = Background(
        client.post,
        path="/api/v1/calls/originate",
        data={"from": "1002", "to": "1003"},
        content_type="application/json",
        headers=bearer(raw),
    )
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1002" for c in pbx.sim.channels()))
    assert pbx.sent("Originate")[-1]["Channel"] == "PJSIP/1002"
    pbx.sim.answer("1002")
    response = pending.join()
    assert response.status_code == 200, response.content
    assert (
        response.json()["ok"] is True and response.json()["pbx"]["message"] == "Originate successfully queued"
    )
    assert response.json()["pbx"]["channel"].startswith("PJSIP/1002-")
    pbx.sim.wait_until(lambda: any(c["endpoint"] == "1003" for c in pbx.sim.channels()))
    pbx.sim.answer("1003")
    pbx.sim.wait_until(lambda: pbx.sim.bridged_with("1002") == {"1003"})
    # The live state shows the call to a key of the department.
    state = client.get("/api/v1/state", headers=bearer(raw)).json()
    assert any(
        {p["extension"] for p in c["parties"]} == {"1002", "1003"} for c in state["calls"]
    ) or pbx.wait_view(lambda v: v["calls"])


def test_a_plain_user_key_may_not_call_from_someone_elses_phone(
    pbx: Pbx, client: Client, acme: Any, agent: User
) -> None:
    _key, raw = make_api_key(acme)
    response = client.post(
        "/api/v1/calls/originate",
        {"from": "1002", "to": "1003"},
        content_type="application/json",
        headers=bearer(raw),
    )
    assert response.status_code in (403, 404)
    assert pbx.sent() == []


def test_state_shows_users_with_their_colour_and_only_to_their_tenant(
    pbx: Pbx, client: Client, acme: Any, globex: Any, owner: User, charlie: User
) -> None:
    key, raw = make_api_key(acme)
    key.user.role = "manager"
    key.user.department = owner.department
    key.user.save()
    state = client.get("/api/v1/state", headers=bearer(raw)).json()
    assert [(u["extension"], u["colour"]) for u in state["users"]] == [("1000", "white")]
    _gkey, graw = make_api_key(globex)
    other = client.get("/api/v1/state", headers=bearer(graw)).json()
    assert other["users"] == [] and other["calls"] == [] and other["queues"] == []


def test_a_key_of_another_tenant_cannot_act_on_our_calls(
    pbx: Pbx, client: Client, globex: Any, agent: User
) -> None:
    pbx.sim.call("1002", "1003")
    call_id = pbx.call_of("1002")
    _key, raw = make_api_key(globex)
    response = client.post(
        f"/api/v1/calls/{call_id}/hangup", content_type="application/json", headers=bearer(raw)
    )
    assert response.status_code == 404 and response.json()["error_id"] == "no-such-call"
    assert pbx.sent() == []
    assert [r.tenant_id for r in audit_rows(operation="call_hangup")] == [globex.pk]


def test_spy_needs_a_phone_of_ones_own(pbx: Pbx, client: Client, acme: Any, agent: User) -> None:
    key, raw = make_api_key(acme)
    key.user.role = "manager"
    key.user.department = agent.department
    key.user.save()
    call_id = internal_call(pbx, "1002", "1003")
    response = client.post(
        f"/api/v1/calls/{call_id}/spy",
        {"mode": "listen"},
        content_type="application/json",
        headers=bearer(raw),
    )
    assert response.status_code == 422 and response.json()["error_id"] == "invalid-input"
    assert pbx.sent() == []


def test_history_lists_finished_calls_the_key_may_see(
    client: Client, acme: Any, globex: Any, agent: User
) -> None:
    record = make_call_record(acme, caller="1002", callee="+4930123456")
    record.users.add(agent)
    make_call_record(globex)
    key, raw = make_api_key(acme)
    key.user.role = "owner"
    key.user.save()
    rows = client.get("/api/v1/calls/history", headers=bearer(raw)).json()
    assert [r["id"] for r in rows] == [str(record.pk)]
    assert rows[0]["callee"] == "+4930123456"
    plain_key, plain_raw = make_api_key(acme, "plain")
    assert client.get("/api/v1/calls/history", headers=bearer(plain_raw)).json() == []


def test_pbx_down_is_503_pbx_not_connected(
    client: Client, eager_celery: None, acme: Any, agent: User
) -> None:
    from tests.factories import make_pbx

    make_pbx("down", tenants=(acme,))
    key, raw = make_api_key(acme)
    make_account(key.user, "1009", is_default=True)
    response = client.post("/api/v1/dnd", {"on": True}, content_type="application/json", headers=bearer(raw))
    assert response.status_code == 503 and response.json()["error_id"] == "pbx-not-connected"
    assert [r.result for r in audit_rows(operation="dnd_set")] == ["failed"]


def test_api_key_command_creates_lists_and_revokes(client: Client, acme: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "CRM",
        "--right",
        "can_see_calls",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    assert raw.startswith("sb_") and "shown once" in err.getvalue()
    with dangerously_all_tenants():
        key = ApiKey.objects.get(name="CRM")
    assert key.key_hash == ApiKey.hash(raw) and raw not in key.key_hash
    assert key.user.is_service_account and key.user.can_see_calls and not key.user.has_usable_password()
    assert client.get("/api/v1/state", headers=bearer(raw)).status_code == 200
    listing = io.StringIO()
    call_command("api_key", "list", "--tenant", "acme", stdout=listing)
    assert "CRM" in listing.getvalue() and raw not in listing.getvalue()
    call_command("api_key", "revoke", "--tenant", "acme", "--name", "CRM", stdout=io.StringIO())
    assert client.get("/api/v1/state", headers=bearer(raw)).status_code == 401


def test_openapi_schema_is_served(client: Client, db: None) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/calls/originate" in schema["paths"]
    assert schema["components"]["securitySchemes"]
