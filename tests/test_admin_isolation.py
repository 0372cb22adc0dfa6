"""Tenant isolation of the whole Django admin, for EVERY registered model.

The models come from admin.site._registry, so a model registered later is covered without
touching this file; its test fails until tests/factories.py ADMIN_OBJECT_FACTORIES can build one
(that is the point). acme's owner asks for globex's objects through every admin door: change
list, change / delete / history pages, POSTs, autocomplete and export. Each test also checks
that the same door DOES show acme's own object, so a page that shows nothing cannot pass.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from accounts.admin import TenantAdminMixin
from accounts.models import Tenant, User
from accounts.scoping import dangerously_all_tenants
from tests.factories import ADMIN_OBJECT_FACTORIES


MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label_lower)
DENIED = (403, 404)


def label(model: type[Model]) -> str:
    return model._meta.label_lower


def admin_url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def make(model: type[Model], tenant: Tenant) -> Model:
    factory = ADMIN_OBJECT_FACTORIES.get(label(model))
    assert factory is not None, (
        f"add a factory for {label(model)} to tests/factories.py ADMIN_OBJECT_FACTORIES"
    )
    with dangerously_all_tenants():
        return factory(tenant)


def snapshot(obj: Model) -> dict[str, Any]:
    with dangerously_all_tenants():
        fresh = type(obj)._base_manager.get(pk=obj.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def exists(obj: Model) -> bool:
    with dangerously_all_tenants():
        return type(obj)._base_manager.filter(pk=obj.pk).exists()


def owner_may_view(model: type[Model]) -> bool:
    """Platform models (PBX servers and their tenant links) are for system owners only."""
    return label(model) not in ("telephony.pbxserver", "telephony.pbxtenant")


def export_csv(client: Client, model: type[Model]) -> str:
    """Run the admin export (all fields, CSV) as the logged-in user; the file's text."""
    url = admin_url(model, "export")
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = page.context["form"]
    data = {name: "on" for name, field in form.fields.items() if field.__class__.__name__ == "BooleanField"}
    csv_index = next(value for value, text in form.fields["format"].choices if str(text).lower() == "csv")
    data["format"] = csv_index
    if "resource" in form.fields:
        data["resource"] = form.fields["resource"].choices[0][0]
    response = client.post(url, data)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv"), response["Content-Type"]
    return response.content.decode()


def test_every_registered_admin_is_tenant_scoped() -> None:
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, TenantAdminMixin), f"{label(model)} admin must use TenantAdminMixin"


def test_every_registered_model_has_a_factory() -> None:
    missing = [label(m) for m in MODELS if label(m) not in ADMIN_OBJECT_FACTORIES]
    assert not missing, f"add factories to tests/factories.py for {missing}"


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_owner_cannot_reach_another_tenants_objects(
    client: Client, model: type[Model], acme: Tenant, globex: Tenant, owner: User
) -> None:
    mine, theirs = make(model, acme), make(model, globex)
    client.force_login(owner)

    changelist = client.get(admin_url(model, "changelist"))
    if owner_may_view(model):
        assert changelist.status_code == 200
        assert str(mine.pk) in changelist.content.decode(), "own object missing: the test would prove nothing"
        assert str(theirs.pk) not in changelist.content.decode()
        assert client.get(admin_url(model, "change", mine.pk)).status_code == 200
        assert client.get(admin_url(model, "history", mine.pk)).status_code == 200
    else:
        assert changelist.status_code == 403

    for view in ("change", "delete", "history"):
        response = client.get(admin_url(model, view, theirs.pk))
        assert response.status_code in DENIED, (view, response.status_code)

    before = snapshot(theirs)
    payload = {f.name: "1999" for f in model._meta.concrete_fields if f.editable and not f.is_relation}
    payload["_save"] = "Save"
    response = client.post(admin_url(model, "change", theirs.pk), payload)
    assert response.status_code in DENIED, response.status_code
    assert snapshot(theirs) == before

    response = client.post(admin_url(model, "delete", theirs.pk), {"post": "yes"})
    assert response.status_code in DENIED, response.status_code
    assert exists(theirs)

    # The bulk "delete selected" action ignores ids that the change list does not show.
    if owner_may_view(model):
        client.post(
            admin_url(model, "changelist"),
            {"action": "delete_selected", "_selected_action": [str(theirs.pk)], "post": "yes"},
        )
        assert exists(theirs)


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_export_contains_only_own_rows(
    client: Client, model: type[Model], acme: Tenant, globex: Tenant, owner: User, system_owner: User
) -> None:
    mine, theirs = make(model, acme), make(model, globex)
    if owner_may_view(model):
        client.force_login(owner)
        text = export_csv(client, model)
        assert str(mine.pk) in text or str(mine) in text, "own row missing from the export"
        assert str(theirs.pk) not in text
        if str(mine) != str(theirs):
            assert str(theirs) not in text
    else:
        client.force_login(owner)
        assert client.get(admin_url(model, "export")).status_code in DENIED
    client.force_login(system_owner)
    text = export_csv(client, model)
    assert str(theirs.pk) in text or str(theirs) in text


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_system_owner_sees_every_tenant(
    client: Client, model: type[Model], acme: Tenant, globex: Tenant, system_owner: User
) -> None:
    mine, theirs = make(model, acme), make(model, globex)
    client.force_login(system_owner)
    content = client.get(admin_url(model, "changelist")).content.decode()
    assert str(mine.pk) in content and str(theirs.pk) in content
    assert client.get(admin_url(model, "change", theirs.pk)).status_code == 200


def autocomplete_sources() -> list[tuple[type[Model], str]]:
    """Every (admin model, field) with an autocomplete widget, found in the registry."""
    return [
        (model, field)
        for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: label(item[0]))
        for field in model_admin.autocomplete_fields
    ]


@pytest.mark.parametrize(("source", "field"), autocomplete_sources(), ids=lambda v: getattr(v, "__name__", v))
def test_autocomplete_returns_only_own_tenant(
    client: Client, source: type[Model], field: str, acme: Tenant, globex: Tenant, owner: User
) -> None:
    target = source._meta.get_field(field).related_model
    mine, theirs = make(target, acme), make(target, globex)
    client.force_login(owner)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": source._meta.app_label, "model_name": source._meta.model_name, "field_name": field},
    )
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert str(mine.pk) in ids
    assert str(theirs.pk) not in ids


def test_there_is_at_least_one_autocomplete() -> None:
    assert autocomplete_sources(), "no autocomplete field registered: the autocomplete test proves nothing"


@pytest.mark.parametrize("persona", ["manager", "agent", "charlie"])
def test_managers_and_users_get_no_admin(
    client: Client, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)
    client.force_login(user)
    for url in [reverse("admin:index")] + [admin_url(model, "changelist") for model in MODELS]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_owner_login_through_the_admin_form(client: Client, owner: User, manager: User) -> None:
    for user in (owner, manager):
        user.set_password("correct horse 9")
        user.save()
    url = reverse("admin:login")
    assert client.post(url, {"username": "manager", "password": "correct horse 9"}).status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(url, {"username": "owner", "password": "correct horse 9", "next": "/admin/"})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    owner.refresh_from_db()
    assert not owner.is_superuser and not owner.is_staff


def test_history_filters_offer_only_own_tenant(
    client: Client, acme: Tenant, globex: Tenant, owner: User, agent: User, charlie: User
) -> None:
    """The audit log's actor filter lists only acme's people; filters narrow the list."""
    from telephony.models import AuditEntry, AuditResult
    from tests.factories import make_audit_entry, make_call_record

    mine = make_audit_entry(acme, actor=agent, operation="transfer")
    make_audit_entry(acme, actor=agent, operation="hangup")
    theirs = make_audit_entry(globex, actor=charlie, operation="transfer")
    client.force_login(owner)
    url = admin_url(AuditEntry, "changelist")
    page = client.get(url)
    assert str(agent.pk) in page.content.decode() and str(charlie.pk) not in page.content.decode()
    filtered = client.get(
        url, {"operation": "transfer", "result": AuditResult.OK, "actor__id__exact": str(agent.pk)}
    )
    assert [entry.pk for entry in filtered.context["cl"].result_list] == [mine.pk]
    assert theirs.pk not in [
        e.pk for e in client.get(url, {"operation": "transfer"}).context["cl"].result_list
    ]

    from telephony.models import CallRecord

    record = make_call_record(acme)
    make_call_record(globex)
    listed = client.get(
        admin_url(CallRecord, "changelist"), {"direction": "internal", "disposition": "answered"}
    )
    assert [r.pk for r in listed.context["cl"].result_list] == [record.pk]
