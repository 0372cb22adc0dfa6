"""Admin forms: login for tenant admins, users with a password, accounts that stay in their tenant.

Validation that Django's ModelForm would skip lives here on purpose: the `tenant` field is not
on the forms tenant owners see (the tenant comes from the acting user, never from the form), so
Django silently skips every unique constraint that names `tenant`. The checks below put them
back with messages a busy office manager understands, instead of an IntegrityError (HTTP 500).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserChangeForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from accounts.models import ApiKey, Role, User
from telephony.models import Account, AccountKind


class TenantAdminAuthenticationForm(AdminAuthenticationForm):
    """Admin login for tenant owners and system owners (who are not `is_staff`)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "Please enter the username and password of a tenant owner or system owner.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # active; skip the is_staff check
        if not getattr(user, "is_tenant_admin", False):
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login")


class SwitchboardUserCreationForm(UserCreationForm):
    """The add form: a username and a password (twice), checked by AUTH_PASSWORD_VALIDATORS."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)


class SwitchboardUserChangeForm(UserChangeForm):
    # Base fields only: the admin builds the real form from its fieldsets at request time, in
    # the tenant scope. Naming a foreign key to a tenant-owned model here would evaluate its
    # scoped manager at import time (django-scopes raises outside a scope).
    class Meta(UserChangeForm.Meta):
        model = User
        fields = ("username",)


def account_number_taken(*, tenant_id: uuid.UUID, kind: str, number: str, exclude_pk: Any = None) -> bool:
    """Is this number of this kind already someone's account in the tenant?"""
    queryset = Account.objects.filter(tenant_id=tenant_id, kind=kind, number=number)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.exists()


def taken_message(kind: str, number: str) -> str:
    return f"{AccountKind(kind).label} {number} is already used in this tenant."


class AccountForm(forms.ModelForm):
    """An account; the duplicate check uses the tenant the admin put on the instance."""

    class Meta:
        model = Account
        fields = ("kind", "number", "label", "is_default")  # the admin adds user/tenant in scope

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        tenant_id = tenant.pk if tenant is not None else self.instance.tenant_id
        kind, number = cleaned.get("kind"), cleaned.get("number")
        if tenant_id and kind and number:
            if account_number_taken(
                tenant_id=tenant_id, kind=kind, number=number, exclude_pk=self.instance.pk
            ):
                self.add_error("number", taken_message(kind, number))
        return cleaned


class AccountInlineFormSet(BaseInlineFormSet):
    """A user's accounts: in the user's tenant, no number twice, exactly one default."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)
        # The parent user's tenant (set from the acting owner before validation), so that
        # AccountForm's duplicate check and Account.clean() see the right tenant.
        form.instance.tenant_id = self.instance.tenant_id
        return form

    def clean(self) -> None:
        super().clean()
        live = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE")
        ]
        seen: set[tuple[str, str]] = set()
        for form in live:
            key = (form.cleaned_data.get("kind"), form.cleaned_data.get("number"))
            if None not in key and key in seen:
                form.add_error("number", f"{AccountKind(key[0]).label} {key[1]} is listed twice.")
            seen.add(key)
        defaults = sum(bool(form.cleaned_data.get("is_default")) for form in live)
        if live and defaults != 1:
            raise ValidationError("Mark exactly one of the user's accounts as the default.")


SERVICE_ROLES = [
    (Role.USER, "User (own calls)"),
    (Role.MANAGER, "Manager"),
    (Role.OWNER, "Owner (whole tenant)"),
]


class ApiKeyForm(forms.ModelForm):
    """Add an API key: its service user is created unless an existing one is chosen."""

    service_role = forms.ChoiceField(
        choices=SERVICE_ROLES,
        initial=Role.USER,
        required=False,
        help_text=(
            "Role of the service user created for this key; it decides whose calls the key may act on. "
            "An integration that acts for every user of the tenant needs Owner."
        ),
    )

    class Meta:
        model = ApiKey
        fields = ("name", "revoked_at")  # the admin adds tenant/user in scope

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            self.fields["user"].required = False
            self.fields["user"].help_text = "Leave empty to create a new service user for this key."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        tenant_id = tenant.pk if tenant is not None else self.instance.tenant_id
        user = cleaned.get("user")
        if user is not None and user.tenant_id != tenant_id:
            self.add_error("user", "That user belongs to another tenant.")
        if user is not None and not user.is_service_account:
            self.add_error("user", "An API key acts as a service user, not as a person.")
        return cleaned
