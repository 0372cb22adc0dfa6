"""The office manager's admin: users with a password, accounts inline, rights in bulk, API keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import RIGHT_FIELDS, ApiKey, Department, Role, Tenant, User
from accounts.scoping import dangerously_all_tenants
from telephony.models import Account, AccountKind
from tests.factories import make_account, make_department

ADD_URL = reverse("admin:accounts_user_add")
CHANGELIST = reverse("admin:accounts_user_changelist")


def change_url(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return "" if value is None else str(value)


def form_data(response: Any) -> dict[str, Any]:
    """What the browser would post back unchanged: the admin form plus every inline formset."""
    data: dict[str, Any] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = _value(form[name].value())
            if value is not None:
                data[form.add_prefix(name)] = value
    data["_save"] = "Save"
    return data


def errors_of(response: Any) -> str:
    """Every error message on an admin change page (form, inlines, non-form)."""
    assert response.status_code == 200, response.status_code
    parts = [str(response.context["adminform"].form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        parts.append(str(inline.formset.errors))
        parts.append(str(inline.formset.non_form_errors()))
    return " ".join(parts)


def accounts_of(user: User) -> list[tuple[str, str, bool]]:
    with dangerously_all_tenants():
        return sorted(Account.objects.filter(user=user).values_list("kind", "number", "is_default"))


# --- adding people -------------------------------------------------------------------------


def test_owner_adds_a_user_with_password_in_own_tenant(
    client: Client, owner: User, acme: Tenant, globex: Tenant, acme_sales: Department
) -> None:
    client.force_login(owner)
    response = client.post(
        ADD_URL,
        {
            "username": "newbie",
            "password1": "s3cret-phone",
            "password2": "s3cret-phone",
            "first_name": "New",
            "last_name": "Bie",
            "department": str(acme_sales.pk),
            "role": Role.USER,
            "tenant": str(globex.pk),  # not on the form for owners: must be ignored
            "accounts-TOTAL_FORMS": "1",
            "accounts-INITIAL_FORMS": "0",
            "accounts-0-kind": AccountKind.EXTENSION,
            "accounts-0-number": "1050",
            "accounts-0-is_default": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, errors_of(response)
    user = User.objects.get(username="newbie")
    assert user.tenant_id == acme.pk and user.department_id == acme_sales.pk
    assert user.check_password("s3cret-phone")
    assert accounts_of(user) == [(AccountKind.EXTENSION, "1050", True)]
    with dangerously_all_tenants():
        assert Account.objects.get(user=user).tenant_id == acme.pk


def test_add_form_rejects_weak_password_other_tenants_department_and_system_owner_role(
    client: Client, owner: User, globex_sales: Department, acme_sales: Department
) -> None:
    client.force_login(owner)
    base = {
        "username": "newbie",
        "password1": "s3cret-phone",
        "password2": "s3cret-phone",
        "department": str(acme_sales.pk),
        "role": Role.USER,
        "accounts-TOTAL_FORMS": "0",
        "accounts-INITIAL_FORMS": "0",
    }
    page = client.get(ADD_URL)
    choices = {str(value) for value, _ in page.context["adminform"].form.fields["department"].choices}
    assert str(acme_sales.pk) in choices and str(globex_sales.pk) not in choices
    assert Role.SYSTEM_OWNER not in dict(page.context["adminform"].form.fields["role"].choices)
    for bad in (
        {"password2": "other-thing"},
        {"password1": "short", "password2": "short"},
        {"department": str(globex_sales.pk)},
        {"role": Role.SYSTEM_OWNER},
    ):
        response = client.post(ADD_URL, {**base, **bad})
        assert response.status_code == 200 and response.context["adminform"].form.errors, bad
    assert not User.objects.filter(username="newbie").exists()


# --- accounts inline -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"kind": AccountKind.EXTENSION, "number": "1001"}, "already used in this tenant"),  # manager's
        ({"kind": AccountKind.EXTENSION, "number": "10a1"}, "An extension is 2 to 10 digits"),
        ({"kind": AccountKind.ALTERNATIVE, "number": "+49 30 1234"}, "A phone number is 3 to 20 digits"),
        ({"kind": AccountKind.EXTENSION, "number": "1077", "is_default": "on"}, "exactly one"),
    ],
)
def test_accounts_inline_validation_saves_nothing_on_error(
    client: Client, owner: User, agent: User, manager: User, row: dict[str, str], message: str
) -> None:
    client.force_login(owner)
    data = form_data(client.get(change_url(agent)))
    index = int(data["accounts-TOTAL_FORMS"]) - 1  # the empty extra form
    data.update({f"accounts-{index}-{key}": value for key, value in row.items()})
    data["first_name"] = "Changed"
    response = client.post(change_url(agent), data)
    assert message in errors_of(response)
    agent.refresh_from_db()
    assert agent.first_name == "" and accounts_of(agent) == [(AccountKind.EXTENSION, "1002", True)]


def test_extension_of_another_tenant_is_free_and_switching_default_works(
    client: Client, owner: User, agent: User, charlie: User
) -> None:
    client.force_login(owner)
    data = form_data(client.get(change_url(agent)))
    index = int(data["accounts-TOTAL_FORMS"]) - 1
    data.update(
        {
            f"accounts-{index}-kind": AccountKind.EXTENSION,
            f"accounts-{index}-number": "2001",  # charlie's number, in globex
            f"accounts-{index}-is_default": "on",
        }
    )
    data.pop("accounts-0-is_default")  # 1002 is no longer the default
    response = client.post(change_url(agent), data)
    assert response.status_code == 302, errors_of(response)
    assert accounts_of(agent) == [
        (AccountKind.EXTENSION, "1002", False),
        (AccountKind.EXTENSION, "2001", True),
    ]


# --- list, filters, search, bulk rights ------------------------------------------------------


def test_search_by_extension_and_filter_by_department(
    client: Client, owner: User, agent: User, support: User, manager: User, acme_support: Department
) -> None:
    client.force_login(owner)
    found = client.get(CHANGELIST, {"q": "1002"}).context["cl"].result_list
    assert [u.username for u in found] == ["agent"]
    filtered = (
        client.get(CHANGELIST, {"department__id__exact": str(acme_support.pk)}).context["cl"].result_list
    )
    assert [u.username for u in filtered] == ["support"]
    assert [
        u.username
        for u in client.get(CHANGELIST, {"can_pickup__exact": "0", "role__exact": "manager"})
        .context["cl"]
        .result_list
    ] == ["manager"]


def test_department_filter_lists_only_own_departments(
    client: Client, owner: User, agent: User, charlie: User, globex_sales: Department
) -> None:
    client.force_login(owner)
    content = client.get(CHANGELIST).content.decode()
    assert str(globex_sales.pk) not in content


def test_bulk_grant_and_revoke_a_right(
    client: Client, owner: User, agent: User, support: User, charlie: User
) -> None:
    client.force_login(owner)
    selected = [str(agent.pk), str(support.pk), str(charlie.pk)]
    response = client.post(CHANGELIST, {"action": "grant_can_pickup", "_selected_action": selected})
    assert response.status_code == 302
    for user in (agent, support, charlie):
        user.refresh_from_db()
    assert agent.can_pickup and support.can_pickup
    assert not charlie.can_pickup  # another tenant's id in the POST is ignored
    client.post(CHANGELIST, {"action": "revoke_can_pickup", "_selected_action": [str(agent.pk)]})
    agent.refresh_from_db()
    support.refresh_from_db()
    assert not agent.can_pickup and support.can_pickup
    history = client.get(reverse("admin:accounts_user_history", args=[agent.pk])).content.decode()
    assert "pickup" in history


def test_every_right_has_a_grant_and_a_revoke_action(client: Client, owner: User) -> None:
    client.force_login(owner)
    actions = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    for field in RIGHT_FIELDS:
        assert f"grant_{field}" in actions and f"revoke_{field}" in actions, field


# --- account admin: user choices ---------------------------------------------------------------


def test_account_admin_user_choices_and_duplicate_number(
    client: Client, owner: User, agent: User, charlie: User
) -> None:
    client.force_login(owner)
    url = reverse("admin:telephony_account_add")
    ok = {"user": str(agent.pk), "kind": AccountKind.VOICEMAIL, "number": "81002", "_save": "Save"}
    response = client.post(url, {**ok, "user": str(charlie.pk)})
    assert "user" in response.context["adminform"].form.errors
    response = client.post(url, {**ok, "kind": AccountKind.EXTENSION, "number": "1002"})
    assert "already used in this tenant" in str(response.context["adminform"].form.errors)
    assert client.post(url, ok).status_code == 302
    assert (AccountKind.VOICEMAIL, "81002", False) in accounts_of(agent)


def test_department_names_are_unique_per_tenant_with_a_form_error(
    client: Client, owner: User, acme_sales: Department, globex_sales: Department
) -> None:
    client.force_login(owner)
    url = reverse("admin:accounts_department_add")
    response = client.post(url, {"name": "Sales", "_save": "Save"})
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert client.post(url, {"name": "Billing", "_save": "Save"}).status_code == 302
    with dangerously_all_tenants():
        assert Department.objects.get(name="Billing").tenant_id == owner.tenant_id
    make_department(owner.tenant, "Spare")  # factories still work after admin writes


# --- API keys --------------------------------------------------------------------------------


def test_adding_an_api_key_creates_its_service_user_and_shows_the_key_once(
    client: Client, owner: User, acme: Tenant
) -> None:
    client.force_login(owner)
    response = client.post(
        reverse("admin:accounts_apikey_add"),
        {"name": "CRM", "service_role": Role.OWNER, "_save": "Save"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [
        str(m) for m in response.context["messages"]
    ]
    raw = next(word for text in shown for word in text.split() if word.startswith("sb_"))
    with dangerously_all_tenants():
        key = ApiKey.objects.get(name="CRM")
    assert key.tenant_id == acme.pk
    assert key.key_hash == ApiKey.hash(raw) and key.prefix == raw[:8]
    assert raw not in key.key_hash
    service = key.user
    assert service.is_service_account and not service.has_usable_password()
    assert service.tenant_id == acme.pk and service.role == Role.OWNER
    assert not service.is_tenant_admin
    # Shown once: the change page does not contain it.
    assert raw not in client.get(reverse("admin:accounts_apikey_change", args=[key.pk])).content.decode()

    response = client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_api_keys", "_selected_action": [str(key.pk)]},
    )
    assert response.status_code == 302
    with dangerously_all_tenants():
        key.refresh_from_db()
    assert key.revoked_at is not None and not key.is_active


def test_api_key_for_a_chosen_service_user_of_own_tenant_only(
    client: Client, owner: User, acme: Tenant, globex: Tenant, agent: User
) -> None:
    from tests.factories import make_user

    mine = make_user("crm-bot", tenant=acme, is_service_account=True)
    theirs = make_user("globex-bot", tenant=globex, is_service_account=True)
    client.force_login(owner)
    url = reverse("admin:accounts_apikey_add")
    for user in (theirs, agent):  # another tenant's service user; a person
        response = client.post(url, {"name": "Bot", "user": str(user.pk), "_save": "Save"})
        assert response.status_code == 200 and "user" in response.context["adminform"].form.errors
    assert client.post(url, {"name": "Bot", "user": str(mine.pk), "_save": "Save"}).status_code == 302
    with dangerously_all_tenants():
        assert ApiKey.objects.get(name="Bot").user_id == mine.pk
    assert make_account(agent, "1099").tenant_id == acme.pk
