"""CSV import/export of users through the admin: preview, row errors, all-or-nothing."""

from __future__ import annotations

from typing import Any

import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Department, Role, Tenant, User
from accounts.resources import UserResource
from accounts.scoping import dangerously_all_tenants
from telephony.models import Account, AccountKind

IMPORT_URL = reverse("admin:accounts_user_import")
PROCESS_URL = reverse("admin:accounts_user_process_import")
HEADER = "username,first_name,last_name,department,role,extension,alternative_number,can_pickup,password\n"


def csv_file(*rows: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "users.csv", (HEADER + "\n".join(rows) + "\n").encode(), content_type="text/csv"
    )


def csv_format_index(client: Client) -> str:
    form = client.get(IMPORT_URL).context["form"]
    return next(str(value) for value, text in form.fields["format"].choices if str(text).lower() == "csv")


def preview(client: Client, *rows: str) -> Any:
    """Upload a file: the admin answers with a dry-run preview (and a confirm form if clean)."""
    response = client.post(IMPORT_URL, {"format": csv_format_index(client), "import_file": csv_file(*rows)})
    assert response.status_code == 200
    return response


def row_errors(response: Any) -> str:
    result = response.context["result"]
    messages = [str(e.error) for _, errors in result.row_errors() for e in errors]
    for invalid in result.invalid_rows:
        messages.append(str(invalid.error_dict))
    return " ".join(messages)


def usernames(tenant: Tenant) -> set[str]:
    return set(User.objects.filter(tenant=tenant).values_list("username", flat=True))


def numbers(username: str) -> list[tuple[str, str, bool]]:
    with dangerously_all_tenants():
        return sorted(
            Account.objects.filter(user__username=username).values_list("kind", "number", "is_default")
        )


def test_valid_file_previews_then_imports_on_confirm(
    client: Client, owner: User, acme: Tenant, acme_sales: Department, agent: User
) -> None:
    client.force_login(owner)
    before = usernames(acme)
    response = preview(
        client,
        "anna,Anna,Meyer,Sales,user,1010,+4930123456,1,longpassword1",
        "ben,Ben,Ortiz,Sales,manager,1011,,0,",
        "agent,Agent,Updated,Sales,user,1002,,1,",  # an existing user of the tenant: updated
    )
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(response)
    assert [row.import_type for row in result.rows] == ["new", "new", "update"]
    assert usernames(acme) == before, "the preview is a dry run"
    confirm = response.context["confirm_form"]
    data = {name: confirm[name].value() for name in confirm.fields}
    response = client.post(PROCESS_URL, data)
    assert response.status_code == 302

    anna = User.objects.get(username="anna")
    assert anna.tenant_id == acme.pk and anna.department_id == acme_sales.pk and anna.can_pickup
    assert anna.check_password("longpassword1")
    assert numbers("anna") == [
        (AccountKind.ALTERNATIVE, "+4930123456", False),
        (AccountKind.EXTENSION, "1010", True),
    ]
    ben = User.objects.get(username="ben")
    assert ben.role == Role.MANAGER and not ben.has_usable_password() and not ben.can_pickup
    agent.refresh_from_db()
    assert agent.last_name == "Updated" and agent.can_pickup
    assert numbers("agent") == [(AccountKind.EXTENSION, "1002", True)]


def test_row_errors_are_reported_per_row_and_nothing_is_saved(
    client: Client, owner: User, acme: Tenant, acme_sales: Department, manager: User, charlie: User
) -> None:
    client.force_login(owner)
    before = usernames(acme)
    response = preview(
        client,
        "fine,Fine,Row,Sales,user,1020,,0,",
        "dup,Dup,Ext,Sales,user,1001,,0,",  # the manager's extension
        "bad,Bad,Number,Sales,user,10x1,,0,",
        "alt,Bad,Alt,Sales,user,1021,call-me,0,",
        "nodept,No,Dept,Billing,user,1022,,0,",
        "boss,Would,Be,Sales,system_owner,1023,,0,",
        "charlie,Not,Yours,Sales,user,1024,,0,",  # a username of another tenant
        "weak,Weak,Password,Sales,user,1025,,0,short",
    )
    result = response.context["result"]
    assert "confirm_form" not in response.context
    text = row_errors(response)
    assert "Extension 1001 is already used in this tenant" in text
    assert "An extension is 2 to 10 digits" in text
    assert "A phone number is 3 to 20 digits" in text
    assert "No department “Billing” in this tenant" in text
    assert "Role must be one of" in text
    assert "already exists" in text
    assert "too short" in text
    assert len(result.invalid_rows) + len(result.row_errors()) == 7  # every bad row, not the good one
    assert usernames(acme) == before
    charlie.refresh_from_db()
    assert charlie.first_name == "" and charlie.tenant_id != acme.pk


def test_same_extension_twice_in_one_file(client: Client, owner: User, acme_sales: Department) -> None:
    client.force_login(owner)
    response = preview(client, "one,One,,Sales,user,1030,,0,", "two,Two,,Sales,user,1030,,0,")
    assert "Extension 1030 is already used in this tenant" in row_errors(response)
    assert not User.objects.filter(username__in=["one", "two"]).exists()
    assert numbers("one") == []


def test_department_of_another_tenant_is_not_found(
    client: Client, owner: User, acme: Tenant, globex_sales: Department
) -> None:
    """globex has a "Sales" department, acme has none: the name resolves in acme only."""
    client.force_login(owner)
    response = preview(client, "eve,Eve,,Sales,user,1040,,0,")
    assert "No department “Sales” in this tenant" in row_errors(response)


def test_all_or_nothing_when_the_file_goes_stale_before_confirm(
    client: Client, owner: User, acme: Tenant, acme_sales: Department
) -> None:
    """The preview was clean, then someone took extension 1051: the confirm imports nothing."""
    client.force_login(owner)
    response = preview(client, "first,First,,Sales,user,1050,,0,", "second,Second,,Sales,user,1051,,0,")
    confirm = response.context["confirm_form"]
    from tests.factories import make_user

    make_user("late", tenant=acme, extension="1051")
    response = client.post(PROCESS_URL, {name: confirm[name].value() for name in confirm.fields})
    assert response.status_code == 302
    assert not User.objects.filter(username__in=["first", "second"]).exists()
    assert numbers("first") == []


def test_resource_import_directly_is_atomic(acme: Tenant, acme_sales: Department, manager: User) -> None:
    dataset = tablib.Dataset(headers=["username", "department", "extension"])
    dataset.append(["x1", "Sales", "1060"])
    dataset.append(["x2", "Sales", "1001"])
    result = UserResource(tenant_id=acme.pk).import_data(dataset, dry_run=False, raise_errors=False)
    assert result.has_validation_errors()
    assert not User.objects.filter(username__in=["x1", "x2"]).exists()
    dataset = tablib.Dataset(headers=["username", "department", "extension"])
    dataset.append(["x1", "Sales", "1060"])
    result = UserResource(tenant_id=acme.pk).import_data(dataset, dry_run=False, raise_errors=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert numbers("x1") == [(AccountKind.EXTENSION, "1060", True)]


def test_system_owner_cannot_import_without_a_tenant(client: Client, system_owner: User) -> None:
    client.force_login(system_owner)
    assert client.get(IMPORT_URL).status_code == 403


def test_export_has_extension_and_no_password(
    client: Client, owner: User, agent: User, charlie: User, acme_sales: Department
) -> None:
    client.force_login(owner)
    with dangerously_all_tenants():
        text = UserResource(tenant_id=owner.tenant_id).export(queryset=User.objects.filter(pk=agent.pk)).csv
    header, row = text.strip().splitlines()[:2]
    assert "password" not in header and "extension" in header
    assert row.startswith("agent,") and ",Sales," in row and ",1002," in row
    assert agent.password not in text
