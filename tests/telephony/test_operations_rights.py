"""The rights matrix: persona × operation × whose call (own / same department / other
department / other tenant), at the service level and through the API.

Every acme persona has a call with an outside party (1000 owner/Reception, 1001 manager/Sales,
1002 agent/Sales, 1003 support/Support). The expected outcome of each cell is written out by
hand from DESIGN.md's rights (not computed from accounts/rules.py, which is what is tested):
- a call the actor may not see does not exist for them: 404, nothing sent;
- a visible call without the right: 403, nothing sent;
- allowed: the action reaches the simulator.
Every cell is audited.
"""

# ruff: noqa: F811 - pytest fixtures imported from test_operations_env are parameters here
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Role, User
from accounts.scoping import dangerously_all_tenants
from telephony import errors, services
from telephony.models import AuditEntry
from tests.factories import *  # noqa: F403 - the personas and tenants are fixtures
from tests.factories import make_api_key
from tests.telephony.test_operations_env import Pbx, eager_celery, pbx_auto  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PERSONA_EXT = {"owner": "1000", "manager": "1001", "agent": "1002", "support": "1003"}
# whose call, seen from each persona: (own, same department, other department)
TARGETS = {
    "agent": {"own": "1002", "same-dept": "1001", "other-dept": "1003"},
    "manager": {"own": "1001", "same-dept": "1002", "other-dept": "1003"},
    "owner": {"own": "1000", "same-dept": "1002", "other-dept": "1003"},  # owner sees the tenant
}
OK, DENIED, HIDDEN = "ok", "denied", "hidden"
EXPECTED = {
    # operation: {persona: {target: outcome}}
    "call_hangup": {
        "agent": {"own": OK, "same-dept": HIDDEN, "other-dept": HIDDEN},
        "manager": {"own": OK, "same-dept": OK, "other-dept": HIDDEN},
        "owner": {"own": OK, "same-dept": OK, "other-dept": OK},
    },
    "call_park": {
        "agent": {"own": OK, "same-dept": HIDDEN, "other-dept": HIDDEN},
        "manager": {"own": OK, "same-dept": OK, "other-dept": HIDDEN},
        "owner": {"own": OK, "same-dept": OK, "other-dept": OK},
    },
    "call_transfer_blind": {
        "agent": {"own": OK, "same-dept": HIDDEN, "other-dept": HIDDEN},
        "manager": {"own": OK, "same-dept": OK, "other-dept": HIDDEN},
        "owner": {"own": OK, "same-dept": OK, "other-dept": OK},
    },
    "call_spy": {
        "agent": {"own": DENIED, "same-dept": HIDDEN, "other-dept": HIDDEN},
        "manager": {"own": DENIED, "same-dept": OK, "other-dept": HIDDEN},
        "owner": {"own": DENIED, "same-dept": OK, "other-dept": OK},
    },
}
ARGS: dict[str, dict[str, Any]] = {
    "call_hangup": {},
    "call_park": {},
    "call_transfer_blind": {"to": "1004"},
    "call_spy": {"mode": "listen"},
}
API_PATH = {
    "call_hangup": "hangup",
    "call_park": "park",
    "call_transfer_blind": "transfer",
    "call_spy": "spy",
}
CELLS = [
    (operation, persona, target, outcome)
    for operation, table in EXPECTED.items()
    for persona, row in table.items()
    for target, outcome in row.items()
]


def outside_calls(pbx: Pbx) -> dict[str, str]:
    """Each persona's phone talks to an outside number; their call ids by extension."""
    for ext in PERSONA_EXT.values():
        pbx.sim.call(ext, "915550001111")
    for ext in PERSONA_EXT.values():
        pbx.sim.wait_until(lambda ext=ext: "carrier" in pbx.sim.bridged_with(ext), 3)
    ids = {ext: pbx.call_of(ext) for ext in PERSONA_EXT.values()}
    pbx.wait_view(lambda v: all(v["calls"].get(c, {}).get("answered") for c in ids.values()))
    return ids


def expect(outcome: str, run: Any, pbx: Pbx) -> None:
    before = len(pbx.sent())
    if outcome == OK:
        run()
        assert len(pbx.sent()) == before + 1
        return
    with pytest.raises(errors.PermissionDenied if outcome == DENIED else errors.NotFound):
        run()
    assert len(pbx.sent()) == before, "a refused attempt must send nothing to the PBX"


def audits(operation: str) -> list[str]:
    with dangerously_all_tenants():
        return list(AuditEntry.objects.filter(operation=operation).values_list("result", flat=True))


@pytest.mark.parametrize(("operation", "persona", "target", "outcome"), CELLS)
def test_service_rights(
    pbx_auto: Pbx, request: pytest.FixtureRequest, operation: str, persona: str, target: str, outcome: str
) -> None:
    actor: User = request.getfixturevalue(persona)
    ids = outside_calls(pbx_auto)
    call_id = ids[TARGETS[persona][target]]
    expect(
        outcome,
        lambda: services.OPERATIONS[operation](actor=actor, call_id=call_id, **ARGS[operation]),
        pbx_auto,
    )
    assert audits(operation) == [{OK: "ok", DENIED: "denied", HIDDEN: "invalid"}[outcome]]


@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_another_tenant_sees_none_of_it(
    pbx_auto: Pbx, charlie: User, globex_owner: User, operation: str
) -> None:
    ids = outside_calls(pbx_auto)
    for actor in (charlie, globex_owner):
        for call_id in ids.values():
            expect(
                HIDDEN,
                lambda actor=actor, call_id=call_id: services.OPERATIONS[operation](
                    actor=actor, call_id=call_id, **ARGS[operation]
                ),
                pbx_auto,
            )
    with dangerously_all_tenants():
        rows = list(AuditEntry.objects.filter(operation=operation))
    assert {r.tenant_id for r in rows} == {charlie.tenant_id}  # audited in their own tenant


# --- the same matrix through the API, with a key acting as a persona-like service user -----------


def key_like(persona: User) -> str:
    """An API key whose service user has the persona's role, department and rights."""
    key, raw = make_api_key(persona.tenant, f"key-{persona.username}")
    user = key.user
    for field in ("role", "department_id", "can_see_presence", "can_see_calls", "can_transfer", "can_park"):
        setattr(user, field, getattr(persona, field))
    user.save()
    return raw


@pytest.mark.parametrize(
    ("operation", "persona", "target", "outcome"),
    # A service user has no phone of its own: no "own" calls, and spying (which rings the
    # spy's phone) is answered 422 for it, tested in test_api.py.
    [c for c in CELLS if c[2] != "own" and c[0] != "call_spy"],
)
def test_api_rights(
    pbx_auto: Pbx,
    request: pytest.FixtureRequest,
    client: Client,
    operation: str,
    persona: str,
    target: str,
    outcome: str,
) -> None:
    raw = key_like(request.getfixturevalue(persona))
    ids = outside_calls(pbx_auto)
    call_id = ids[TARGETS[persona][target]]
    before = len(pbx_auto.sent())
    response = client.post(
        f"/api/v1/calls/{call_id}/{API_PATH[operation]}",
        ARGS[operation],
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    status = {OK: 200, DENIED: 403, HIDDEN: 404}[outcome]
    assert response.status_code == status, response.content
    if outcome != OK:
        assert response.json()["error_id"] in ("permission-denied", "no-such-call")
        assert len(pbx_auto.sent()) == before
    assert len(audits(operation)) == 1


def test_a_manager_key_of_another_department_cannot_see_sales_calls(
    pbx_auto: Pbx, client: Client, acme: Any
) -> None:
    from tests.factories import make_department

    key, raw = make_api_key(acme, "support wallboard")
    key.user.role = Role.MANAGER
    key.user.department = make_department(acme, "Support")
    key.user.save()
    outside_calls(pbx_auto)
    state = client.get("/api/v1/state", headers={"Authorization": f"Bearer {raw}"}).json()
    seen = {p["extension"] for c in state["calls"] for p in c["parties"] if p["extension"]}
    assert seen == {"1003"}


# --- the task level: the Celery task a console or integration queues ------------------------------


@pytest.mark.parametrize(
    ("operation", "persona", "target", "outcome"),
    [c for c in CELLS if c[0] in ("call_hangup", "call_spy")],
)
def test_task_rights(
    pbx_auto: Pbx, request: pytest.FixtureRequest, operation: str, persona: str, target: str, outcome: str
) -> None:
    from telephony.tasks import run_operation

    actor: User = request.getfixturevalue(persona)
    ids = outside_calls(pbx_auto)
    before = len(pbx_auto.sent())
    params = {"call_id": ids[TARGETS[persona][target]], **ARGS[operation]}
    result = run_operation.apply(args=(str(actor.pk), operation, params)).get()
    if outcome == OK:
        assert result["ok"] is True and len(pbx_auto.sent()) == before + 1
    else:
        assert result["status"] == {DENIED: 403, HIDDEN: 404}[outcome]
        assert len(pbx_auto.sent()) == before
    assert len(audits(operation)) == 1
