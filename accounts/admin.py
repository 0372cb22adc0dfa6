"""Django admin for tenant owners (their tenant) and system owners (everything).

Two layers, on purpose separate (STYLE.md "Rights once", "Tenant scope once"):
- object permissions: rules' ObjectPermissionsModelAdminMixin asks accounts/rules.py;
- tenant filtering: TenantAdminMixin scopes every queryset the admin touches (change list,
  object pages, FK/M2M choices, autocompletes, inlines, actions, export) to the acting user's
  tenant, and sets the tenant of new rows from the acting user, never from the form.
Another tenant's object looks exactly like a missing one: 404.

Every tenant-owned ModelAdmin of every app derives from `TenantModelAdmin` (or mixes in
`TenantAdminMixin`); tests/test_admin_isolation.py checks each registered model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from import_export.admin import ExportMixin, ImportExportMixin
from rules.contrib.admin import ObjectPermissionsModelAdminMixin

from accounts.forms import (
    AccountForm,
    AccountInlineFormSet,
    ApiKeyForm,
    SwitchboardUserChangeForm,
    SwitchboardUserCreationForm,
)
from accounts.models import (
    OPERATION_RIGHTS,
    RECORDING_RIGHTS,
    RIGHT_FIELDS,
    VIEW_RIGHTS,
    ApiKey,
    Department,
    Role,
    Tenant,
    User,
)
from accounts.resources import ApiKeyResource, UserResource
from accounts.services import api_key_create
from telephony.models import Account, AccountKind

# Rights come from accounts/rules.py alone: no auth groups or permission rows to edit.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


# --- tenant scoping --------------------------------------------------------------------------


def sees_all_tenants(user: Any) -> bool:
    return bool(getattr(user, "is_active", False)) and getattr(user, "role", None) == Role.SYSTEM_OWNER


def tenant_lookup_for(model: type[models.Model]) -> str | None:
    """ORM path from a model to its tenant's id; None for platform models (system owners only)."""
    if model is Tenant:
        return "pk"
    try:
        field = model._meta.get_field("tenant")
    except Exception:  # noqa: BLE001 - FieldDoesNotExist: not tenant-owned
        return None
    return "tenant" if field.is_relation and field.related_model is Tenant else None


def scope_for_admin(queryset: QuerySet, user: Any, lookup: str | None) -> QuerySet:
    """Rows the acting admin may see: all (system owner), one tenant's, or none."""
    if sees_all_tenants(user):
        return queryset
    tenant_id = getattr(user, "tenant_id", None)
    if lookup is None or tenant_id is None or not getattr(user, "is_tenant_admin", False):
        return queryset.none()
    return queryset.filter(**{lookup: tenant_id})


def _strip_tenant(fieldsets: Sequence[Any]) -> list[Any]:
    stripped = []
    for name, options in fieldsets:
        fields = [f for f in options.get("fields", ()) if f != "tenant"]
        if fields:
            stripped.append((name, {**options, "fields": fields}))
    return stripped


def tenant_bound_form(form_class: type[ModelForm], tenant_id: Any) -> type[ModelForm]:
    """The form with the instance's tenant set from the acting owner before validation.

    Setting it before validation (not only in save_model) lets model clean() methods and the
    tenant-wide unique constraints see the tenant; Django skips constraints that name a field
    missing from the form, so they are validated again here with `tenant` included.
    """

    class TenantBoundForm(form_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if tenant_id is not None:
                self.instance.tenant_id = tenant_id

        def validate_unique(self) -> None:
            super().validate_unique()
            if self.errors:
                return
            exclude = {
                f.name for f in self.instance._meta.fields if f.name not in self.fields and f.name != "tenant"
            }
            try:
                self.instance.validate_constraints(exclude=exclude)
            except ValidationError as exc:
                self.add_error(None, exc)

    TenantBoundForm.__name__ = form_class.__name__
    return TenantBoundForm


class TenantScopedChoicesMixin:
    """FK and M2M choices (and so autocompletes' validation) limited to the admin's tenant."""

    def _scoped_choices(self, db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        if "queryset" in kwargs:
            kwargs["queryset"] = scope_for_admin(
                kwargs["queryset"], request.user, tenant_lookup_for(kwargs["queryset"].model)
            )
            return
        related = db_field.remote_field.model
        queryset = self.get_field_queryset(None, db_field, request)  # type: ignore[attr-defined]
        if queryset is None:
            queryset = related._default_manager.all()
        kwargs["queryset"] = scope_for_admin(queryset, request.user, tenant_lookup_for(related))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


class TenantAdminMixin(TenantScopedChoicesMixin, ObjectPermissionsModelAdminMixin):
    """Scope a ModelAdmin to the acting user's tenant (system owner: all tenants).

    `tenant_lookup` is the ORM path to the tenant id: "tenant" (default), "pk" for Tenant
    itself, None for platform models that only system owners manage.
    """

    tenant_lookup: str | None = "tenant"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_for_admin(super().get_queryset(request), request.user, self.tenant_lookup)  # type: ignore[misc]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        """Another tenant's object, a missing one and a malformed id all answer 404.

        (Django's default for a missing object is a redirect with a message.)
        """
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None:
            raise Http404("No such object.")
        return obj

    def _acting_tenant_id(self, request: HttpRequest) -> Any:
        if sees_all_tenants(request.user) or self.tenant_lookup != "tenant":
            return None
        return request.user.tenant_id

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        return fieldsets if sees_all_tenants(request.user) else _strip_tenant(fieldsets)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        return tenant_bound_form(form, self._acting_tenant_id(request))

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        list_display = list(super().get_list_display(request))  # type: ignore[misc]
        if sees_all_tenants(request.user) and self.tenant_lookup == "tenant" and "tenant" not in list_display:
            list_display.append("tenant")
        return list_display

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        tenant_id = self._acting_tenant_id(request)
        if tenant_id is not None:
            obj.tenant_id = tenant_id  # from the acting owner, never from the form
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Inline rows take the tenant of their parent row."""
        parent_tenant_id = form.instance.pk if isinstance(form.instance, Tenant) else form.instance.tenant_id
        instances = formset.save(commit=False)
        for instance in instances:
            if tenant_lookup_for(type(instance)) == "tenant":
                instance.tenant_id = parent_tenant_id
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()
        formset.save_m2m()

    # Export (django-import-export) only what the change list shows.
    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)  # type: ignore[attr-defined]

    def get_valid_export_item_pks(self, request: HttpRequest) -> Any:
        return self.get_queryset(request).values_list("pk", flat=True)


class TenantInlineMixin(TenantScopedChoicesMixin):
    """Inline rows of the admin's tenant only, with scoped choices."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return scope_for_admin(queryset, request.user, tenant_lookup_for(queryset.model))


class TenantModelAdmin(TenantAdminMixin, ExportMixin, admin.ModelAdmin):
    """Base of every tenant-owned ModelAdmin: scoped, rules-checked, exportable."""


# --- tenants and departments -----------------------------------------------------------------


@admin.register(Tenant)
class TenantAdmin(TenantModelAdmin):
    tenant_lookup = "pk"
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")


@admin.register(Department)
class DepartmentAdmin(TenantModelAdmin):
    list_display = ("name", "member_count")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_members=models.Count("members"))

    @admin.display(description="members", ordering="_members")
    def member_count(self, obj: Department) -> int:
        return getattr(obj, "_members", 0)


# --- users -----------------------------------------------------------------------------------


def right_action(field: str, grant: bool) -> Callable[[Any, HttpRequest, QuerySet], None]:
    """One bulk action "grant <right>" or "revoke <right>"; the queryset is already scoped."""
    label = User._meta.get_field(field).verbose_name
    verb = "Grant" if grant else "Revoke"

    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
        changed = list(queryset.exclude(**{field: grant}))
        with transaction.atomic():
            for user in changed:
                setattr(user, field, grant)
                user.save(update_fields=[field])
                modeladmin.log_change(request, user, f"{verb} “{label}” (bulk action)")
        modeladmin.message_user(
            request, f"{verb} “{label}”: {len(changed)} user(s) changed.", messages.SUCCESS
        )

    action.__name__ = f"{verb.lower()}_{field}"
    action.short_description = f"{verb} “{label}”"  # type: ignore[attr-defined]
    action.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    return action


class AccountInline(TenantInlineMixin, admin.TabularInline):
    model = Account
    form = AccountForm
    formset = AccountInlineFormSet
    fields = ("kind", "number", "label", "is_default")
    extra = 1


@admin.register(User)
class UserAdmin(TenantAdminMixin, ImportExportMixin, DjangoUserAdmin):
    """The office manager's page: people, their extensions, rights in bulk, CSV in and out."""

    form = SwitchboardUserChangeForm
    add_form = SwitchboardUserCreationForm
    resource_classes = [UserResource]
    inlines = [AccountInline]
    list_display = ("username", "full_name", "department", "role", "extension", "is_active")
    list_filter = (
        ("department", admin.RelatedOnlyFieldListFilter),
        "role",
        *RIGHT_FIELDS,
        "recording_policy",
        "is_active",
    )
    search_fields = ("username", "first_name", "last_name", "email", "accounts__number")
    ordering = ("username",)
    filter_horizontal = ()
    actions = [right_action(field, grant) for field in RIGHT_FIELDS for grant in (True, False)]
    readonly_fields = ("is_service_account", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Tenant", {"fields": ("tenant", "department", "role", "is_active", "is_service_account")}),
        ("View rights", {"fields": VIEW_RIGHTS}),
        ("Operation rights", {"fields": OPERATION_RIGHTS}),
        ("Recordings", {"fields": ("recording_policy", *RECORDING_RIGHTS)}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Tenant", {"fields": ("tenant", "department", "role")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("department").prefetch_related("accounts")

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "role" and not sees_all_tenants(request.user):
            kwargs["choices"] = [(v, label) for v, label in Role.choices if v != Role.SYSTEM_OWNER]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.display(description="extension")
    def extension(self, obj: User) -> str:
        numbers = [a.number for a in obj.accounts.all() if a.kind == AccountKind.EXTENSION]
        return ", ".join(numbers)

    # CSV import: tenant owners, into their own tenant; the resource validates every row and
    # the whole file is one transaction (see accounts/resources.py).
    def has_import_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            not sees_all_tenants(user)
            and getattr(user, "tenant_id", None) is not None
            and self.has_add_permission(request)
            and self.has_change_permission(request)
        )

    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"tenant_id": getattr(request.user, "tenant_id", None)}

    def process_result(self, result: Any, request: HttpRequest) -> HttpResponse:
        if result.has_errors() or result.has_validation_errors():
            # Reached only if the data changed between preview and confirm: all rolled back.
            self.message_user(
                request,
                "Nothing was imported: the file no longer validates. Import it again.",
                messages.ERROR,
            )
            from django.shortcuts import redirect

            return redirect("admin:accounts_user_import")
        return super().process_result(result, request)


# --- API keys --------------------------------------------------------------------------------


@admin.action(description="Revoke the selected API keys", permissions=["change"])
def revoke_api_keys(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    keys = list(queryset.filter(revoked_at__isnull=True))
    now = timezone.now()
    for key in keys:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
        modeladmin.log_change(request, key, "Revoked")
    modeladmin.message_user(request, f"{len(keys)} API key(s) revoked.", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantModelAdmin):
    """API keys. The service user's rights are edited on its user page like anyone's.

    Its role decides whose calls the key may act on: an integration that acts for every user of
    the tenant needs role Owner (a service user can never log in or use the admin).
    """

    form = ApiKeyForm
    resource_classes = [ApiKeyResource]
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    actions = [revoke_api_keys]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields: tuple[str, ...]
        if obj is None:
            fields = ("tenant", "name", "user", "service_role")
        else:
            fields = ("tenant", "name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
        fieldsets = [(None, {"fields": fields})]
        return fieldsets if sees_all_tenants(request.user) else _strip_tenant(fieldsets)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        if obj is None:
            return ()
        return ("tenant", "user", "prefix", "created_at", "last_used_at")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = User.objects.filter(is_service_account=True, api_key__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        tenant_id = obj.tenant_id if sees_all_tenants(request.user) else request.user.tenant_id
        created, raw = api_key_create(
            tenant_id=tenant_id,
            name=obj.name,
            user=form.cleaned_data.get("user"),
            role=form.cleaned_data.get("service_role") or Role.USER,
        )
        # The admin goes on with `obj` (log entry, redirect): make it the saved row.
        obj.__dict__.update(created.__dict__)
        obj._state.adding = False
        messages.success(
            request,
            f"API key “{created.name}”: {raw} — copy it now; it is shown only this once "
            "and cannot be recovered (only its hash is stored).",
        )
