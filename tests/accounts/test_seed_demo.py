"""`manage.py seed_demo`: the demo tenant, its logins, and doing nothing the second time."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Department, Role, Tenant, User
from accounts.scoping import dangerously_all_tenants
from telephony.models import Account, AccountKind, PbxServer, PbxTenant


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    with dangerously_all_tenants():
        return {
            "tenants": Tenant.objects.count(),
            "departments": Department.objects.count(),
            "users": User.objects.count(),
            "accounts": Account.objects.count(),
            "pbx": PbxServer.objects.count(),
        }


@pytest.mark.django_db
def test_seed_creates_the_demo_tenant_and_is_idempotent() -> None:
    output = seed()
    acme = Tenant.objects.get()
    assert (acme.name, acme.slug) == ("Acme Ltd", "acme")
    with dangerously_all_tenants():
        assert sorted(Department.objects.values_list("name", flat=True)) == ["Reception", "Sales", "Support"]
        extensions = sorted(
            Account.objects.filter(kind=AccountKind.EXTENSION, is_default=True).values_list(
                "number", flat=True
            )
        )
        assert extensions == [str(n) for n in range(1001, 1026)]
        assert Account.objects.filter(kind=AccountKind.ALTERNATIVE).count() >= 3
        for department in Department.objects.all():
            assert department.members.filter(role=Role.MANAGER).count() == 1, department.name
    people = User.objects.filter(tenant=acme)
    assert people.count() == 25
    assert list(people.filter(role=Role.OWNER).values_list("username", flat=True)) == ["owner"]
    assert people.filter(can_pickup=True).exists() and people.filter(can_pickup=False).exists()
    root = User.objects.get(username="root")
    assert root.role == Role.SYSTEM_OWNER and root.tenant_id is None
    pbx = PbxServer.objects.get()
    assert (pbx.name, pbx.host, pbx.port, pbx.username, pbx.secret) == (
        "Demo PBX (simulator)",
        "127.0.0.1",
        5038,
        "panel",
        "panelsecret",
    )
    assert PbxTenant.objects.get().tenant_id == acme.pk
    for username in ("owner", "anna", "zoe", "root"):
        assert username in output
    assert "demo1234" in output

    before = counts()
    assert "did nothing" in seed()
    assert counts() == before


@pytest.mark.django_db
def test_seed_does_nothing_when_a_tenant_exists(acme: Tenant) -> None:
    assert "did nothing" in seed()
    assert counts()["users"] == 0 and counts()["pbx"] == 0


@pytest.mark.django_db
def test_seeded_logins_work(client: Client) -> None:
    seed()
    assert client.login(username="anna", password="demo1234")
    assert not client.login(username="anna", password="wrong")
    client.logout()
    for username, admin_status in (("owner", 200), ("root", 200), ("greta", 302)):
        response = client.post(
            "/admin/login/", {"username": username, "password": "demo1234", "next": "/admin/"}
        )
        if admin_status == 200:
            assert response.status_code == 302, username
        assert client.login(username=username, password="demo1234")
        assert client.get("/admin/").status_code == admin_status, username
        client.logout()
