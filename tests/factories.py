"""Shared test data: two tenants, the personas, and one object of every admin model per tenant.

Plain functions (usable anywhere, e.g. in a bench or a shell) plus pytest fixtures built on them.
Every function creates rows outside any tenant scope (`dangerously_all_tenants`), because set-up
code deliberately writes rows of several tenants.

Personas (healthchecks.io style), all in tenant **acme** unless said otherwise:

| fixture        | username      | role         | department | extension |
|----------------|---------------|--------------|------------|-----------|
| `owner`        | owner         | owner        | Reception  | 1000      |
| `manager`      | manager       | manager      | Sales      | 1001      |
| `agent`        | agent         | user         | Sales      | 1002      |
| `support`      | support       | user         | Support    | 1003      |
| `charlie`      | charlie       | user         | (globex) Sales | 2001  |
| `globex_owner` | globex_owner  | owner        | (globex) Sales | 2000  |
| `system_owner` | root          | system_owner | (no tenant)    | -     |

`charlie` "should have no access to acme's stuff" and acme's people none to his.
Passwords are unusable: log in with `client.force_login(user)` (fast; no hashing).

Use the fixtures from any test module with
tests/conftest.py imports every fixture here for all tests; plain functions can be imported:
`from tests.factories import acme, agent  # noqa: F401`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone

from accounts.models import ApiKey, Department, Role, Tenant, User
from accounts.scoping import dangerously_all_tenants
from telephony.models import (
    Account,
    AccountKind,
    AuditEntry,
    AuditResult,
    CallRecord,
    Direction,
    Disposition,
    PbxServer,
    PbxTenant,
)

# --- plain factories -------------------------------------------------------------------------


def make_tenant(name: str, slug: str | None = None) -> Tenant:
    return Tenant.objects.create(name=name, slug=slug or name.lower().split()[0])


def make_department(tenant: Tenant, name: str) -> Department:
    with dangerously_all_tenants():
        department, _ = Department.objects.get_or_create(tenant=tenant, name=name)
    return department


def make_user(
    username: str,
    *,
    tenant: Tenant | None,
    role: str = Role.USER,
    department: Department | None = None,
    extension: str | None = None,
    password: str | None = None,
    **fields: Any,
) -> User:
    """A user (and their default extension, if given). Extra keyword arguments set rights."""
    user = User(username=username, tenant=tenant, role=role, department=department, **fields)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    if extension is not None and tenant is not None:
        make_account(user, extension, is_default=True)
    return user


def make_account(
    user: User, number: str, *, kind: str = AccountKind.EXTENSION, is_default: bool = False, label: str = ""
) -> Account:
    with dangerously_all_tenants():
        return Account.objects.create(
            tenant_id=user.tenant_id, user=user, kind=kind, number=number, is_default=is_default, label=label
        )


def make_pbx(name: str = "Test PBX", *, tenants: tuple[Tenant, ...] = ()) -> PbxServer:
    pbx = PbxServer.objects.create(name=name, host="127.0.0.1", port=5038, username="panel", secret="s3cret")
    for tenant in tenants:
        PbxTenant.objects.create(pbx=pbx, tenant=tenant)
    return pbx


def make_call_record(tenant: Tenant, *, caller: str = "1001", callee: str = "1002") -> CallRecord:
    now = timezone.now()
    with dangerously_all_tenants():
        return CallRecord.objects.create(
            tenant=tenant,
            linkedid=f"{now.timestamp():.2f}-{uuid.uuid4().hex[:6]}",
            direction=Direction.INTERNAL,
            disposition=Disposition.ANSWERED,
            caller=caller,
            callee=callee,
            started_at=now - timedelta(minutes=2),
            answered_at=now - timedelta(minutes=1),
            ended_at=now,
        )


def make_audit_entry(tenant: Tenant, *, actor: User | None = None, operation: str = "hangup") -> AuditEntry:
    with dangerously_all_tenants():
        return AuditEntry.objects.create(
            tenant=tenant,
            actor=actor,
            actor_name=actor.username if actor else "system",
            operation=operation,
            target="1763836237.36",
            result=AuditResult.OK,
        )


def make_api_key(tenant: Tenant, name: str = "CRM") -> tuple[ApiKey, str]:
    """An API key with its service user; returns (key row, raw key)."""
    service_user = make_user(
        f"api-{tenant.slug}-{uuid.uuid4().hex[:6]}", tenant=tenant, is_service_account=True
    )
    raw = ApiKey.generate()
    with dangerously_all_tenants():
        key = ApiKey.objects.create(
            tenant=tenant,
            name=name,
            user=service_user,
            prefix=raw[: ApiKey.PREFIX_LENGTH],
            key_hash=ApiKey.hash(raw),
        )
    return key, raw


def _unique() -> str:
    return uuid.uuid4().hex[:6]


def _numeric() -> str:
    return str(uuid.uuid4().int % 10**6).rjust(6, "0")


# One object of every admin-registered model, belonging to the given tenant. The admin isolation
# test (tests/test_admin_isolation.py) iterates admin.site._registry and FAILS for a registered
# model missing here: register a model, add its factory here.
ADMIN_OBJECT_FACTORIES: dict[str, Callable[[Tenant], Model]] = {
    "accounts.tenant": lambda tenant: tenant,
    "accounts.department": lambda tenant: make_department(tenant, f"Dept {_unique()}"),
    "accounts.user": lambda tenant: make_user(f"u-{tenant.slug}-{_unique()}", tenant=tenant),
    "accounts.apikey": lambda tenant: make_api_key(tenant, f"Key {_unique()}")[0],
    "telephony.pbxserver": lambda tenant: make_pbx(f"PBX {tenant.slug} {_unique()}", tenants=(tenant,)),
    "telephony.pbxtenant": lambda tenant: make_pbx(
        f"PBX {tenant.slug} {_unique()}", tenants=(tenant,)
    ).tenant_links.get(),
    "telephony.account": lambda tenant: make_account(
        make_user(f"a-{tenant.slug}-{_unique()}", tenant=tenant), _numeric()
    ),
    "telephony.callrecord": lambda tenant: make_call_record(tenant),
    "telephony.auditentry": lambda tenant: make_audit_entry(tenant),
}


def tenant_of(obj: Model) -> Any:
    """The tenant id an admin object belongs to (None: a platform object such as a PBX)."""
    if isinstance(obj, Tenant):
        return obj.pk
    if isinstance(obj, PbxServer):
        return None
    return getattr(obj, "tenant_id", None)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def acme(db: None) -> Tenant:
    return make_tenant("Acme Ltd", "acme")


@pytest.fixture
def globex(db: None) -> Tenant:
    return make_tenant("Globex Corp", "globex")


@pytest.fixture
def acme_reception(acme: Tenant) -> Department:
    return make_department(acme, "Reception")


@pytest.fixture
def acme_sales(acme: Tenant) -> Department:
    return make_department(acme, "Sales")


@pytest.fixture
def acme_support(acme: Tenant) -> Department:
    return make_department(acme, "Support")


@pytest.fixture
def globex_sales(globex: Tenant) -> Department:
    return make_department(globex, "Sales")


@pytest.fixture
def owner(acme: Tenant, acme_reception: Department) -> User:
    return make_user("owner", tenant=acme, role=Role.OWNER, department=acme_reception, extension="1000")


@pytest.fixture
def manager(acme: Tenant, acme_sales: Department) -> User:
    return make_user("manager", tenant=acme, role=Role.MANAGER, department=acme_sales, extension="1001")


@pytest.fixture
def agent(acme: Tenant, acme_sales: Department) -> User:
    return make_user("agent", tenant=acme, department=acme_sales, extension="1002")


@pytest.fixture
def support(acme: Tenant, acme_support: Department) -> User:
    return make_user("support", tenant=acme, department=acme_support, extension="1003")


@pytest.fixture
def charlie(globex: Tenant, globex_sales: Department) -> User:
    return make_user("charlie", tenant=globex, department=globex_sales, extension="2001")


@pytest.fixture
def globex_owner(globex: Tenant, globex_sales: Department) -> User:
    return make_user(
        "globex_owner", tenant=globex, role=Role.OWNER, department=globex_sales, extension="2000"
    )


@pytest.fixture
def system_owner(db: None) -> User:
    return make_user("root", tenant=None, role=Role.SYSTEM_OWNER)
