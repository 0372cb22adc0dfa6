"""CSV import/export of users with their extension (django-import-export).

Import is for one tenant at a time, the acting owner's (`tenant_id`, from the request, never
from the file). A file is all-or-nothing: the whole import runs in one transaction that is rolled
back on any row error or validation error, and the admin's preview is a dry run of exactly the
same code. Rows are matched by username within the tenant; a username of another tenant is an
error ("already exists"), never an update of someone else's user.

Columns: username, first_name, last_name, email, department (name, of this tenant), role
(user / manager / owner), extension, alternative_number, one 0/1 column per right,
recording_policy, and on import only an optional password (for new users; empty: the user gets
no usable password until an owner sets one). Missing columns leave the value unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from accounts.forms import account_number_taken, taken_message
from accounts.models import RIGHT_FIELDS, ApiKey, Department, Role, User
from accounts.scoping import tenant_scope_for
from telephony.models import Account, AccountKind
from telephony.numbers import validate_extension, validate_phone_number

RIGHT_COLUMNS = RIGHT_FIELDS
IMPORTABLE_ROLES = (Role.USER, Role.MANAGER, Role.OWNER)


class DepartmentWidget(widgets.ForeignKeyWidget):
    """A department by name, looked up in the importing tenant only."""

    def __init__(self, tenant_id: Any) -> None:
        super().__init__(Department, "name")
        self.tenant_id = tenant_id

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
        return Department.objects.filter(tenant_id=self.tenant_id)

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        if not value:
            return None
        try:
            return super().clean(value, row, **kwargs)
        except Department.DoesNotExist:
            raise ValueError(f"No department “{value}” in this tenant.") from None


class UserResource(resources.ModelResource):
    department = fields.Field(attribute="department", column_name="department")
    extension = fields.Field(column_name="extension", readonly=True)
    alternative_number = fields.Field(column_name="alternative_number", readonly=True)
    tenant = fields.Field(column_name="tenant", readonly=True)

    class Meta:
        model = User
        fields = (
            "username",
            "first_name",
            "last_name",
            "email",
            "department",
            "role",
            "extension",
            "alternative_number",
            *RIGHT_COLUMNS,
            "recording_policy",
            "tenant",
        )
        export_order = fields
        import_id_fields = ("username",)
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = False

    def __init__(self, tenant_id: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tenant_id = tenant_id
        self.fields["department"].widget = DepartmentWidget(tenant_id)
        for name in (*RIGHT_COLUMNS, "role", "recording_policy", "first_name", "last_name", "email"):
            self.fields[name].saves_null_values = False  # an empty cell keeps the value

    # --- import ---------------------------------------------------------------------------

    def import_data(self, dataset: Any, dry_run: bool = False, **kwargs: Any) -> Any:
        """One transaction per file, rolled back on any error; only into a known tenant."""
        if self.tenant_id is None:
            raise ValueError("CSV import needs the importing tenant (tenant owners only).")
        kwargs["use_transactions"] = True
        kwargs["rollback_on_validation_errors"] = True
        with tenant_scope_for(self.tenant_id):
            return super().import_data(dataset, dry_run=dry_run, **kwargs)

    def get_queryset(self) -> Any:
        return User.objects.filter(tenant_id=self.tenant_id, is_service_account=False)

    def import_instance(self, instance: User, row: Any, **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        if instance._state.adding:
            instance.tenant_id = self.tenant_id
            password = str(row.get("password") or "")
            # Hashed here, before validation: the model requires a (possibly unusable) password.
            if password:
                try:
                    validate_password(password, instance)
                except ValidationError as exc:
                    errors["password"] = exc.messages
                instance.set_password(password)
            else:
                instance.set_unusable_password()
        role_before = instance.role
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if not instance.role:
            instance.role = role_before  # an empty role cell keeps the role
        instance._csv = {  # type: ignore[attr-defined]
            "extension": str(row.get("extension") or "").strip(),
            "alternative_number": str(row.get("alternative_number") or "").strip(),
        }
        if errors:
            raise ValidationError(errors)

    def validate_instance(
        self, instance: User, import_validation_errors: Any = None, validate_unique: bool = True
    ) -> None:
        errors = dict(import_validation_errors or {})
        if instance.role not in IMPORTABLE_ROLES:
            errors["role"] = ValidationError(f"Role must be one of: {', '.join(IMPORTABLE_ROLES)}.")
        csv = getattr(instance, "_csv", {})
        for column, kind, validator in (
            ("extension", AccountKind.EXTENSION, validate_extension),
            ("alternative_number", AccountKind.ALTERNATIVE, validate_phone_number),
        ):
            number = csv.get(column)
            if not number:
                continue
            try:
                validator(number)
            except ValidationError as exc:
                errors[column] = exc
                continue
            if self._number_taken_by_other(instance, kind, number):
                errors[column] = ValidationError(taken_message(kind, number))
        super().validate_instance(instance, errors, validate_unique)

    def _number_taken_by_other(self, user: User, kind: str, number: str) -> bool:
        own = Account.objects.filter(user_id=user.pk, kind=kind, number=number).values_list("pk", flat=True)
        exclude_pk = next(iter(own), None) if not user._state.adding else None
        return account_number_taken(tenant_id=self.tenant_id, kind=kind, number=number, exclude_pk=exclude_pk)

    def after_save_instance(self, instance: User, row: Any, **kwargs: Any) -> None:
        # Runs in dry runs too (inside the rolled-back transaction), so a later row of the
        # same file sees this row's extension as taken.
        csv = getattr(instance, "_csv", {})
        self._sync_account(instance, AccountKind.EXTENSION, csv.get("extension", ""))
        self._sync_account(instance, AccountKind.ALTERNATIVE, csv.get("alternative_number", ""))

    def _sync_account(self, user: User, kind: str, number: str) -> None:
        """The user's (first) account of this kind gets this number; created if missing."""
        if not number:
            return
        account = Account.objects.filter(user=user, kind=kind).order_by("-is_default", "number").first()
        if account is not None:
            if account.number != number:
                account.number = number
                account.save(update_fields=["number"])
            return
        has_default = Account.objects.filter(user=user, is_default=True).exists()
        Account.objects.create(
            tenant_id=self.tenant_id, user=user, kind=kind, number=number, is_default=not has_default
        )

    # --- export ---------------------------------------------------------------------------

    def dehydrate_department(self, user: User) -> str:
        return user.department.name if user.department_id else ""

    def _first_number(self, user: User, kind: str) -> str:
        numbers = sorted((not a.is_default, a.number) for a in user.accounts.all() if a.kind == kind)
        return numbers[0][1] if numbers else ""

    def dehydrate_extension(self, user: User) -> str:
        return self._first_number(user, AccountKind.EXTENSION)

    def dehydrate_alternative_number(self, user: User) -> str:
        return self._first_number(user, AccountKind.ALTERNATIVE)

    def dehydrate_tenant(self, user: User) -> str:
        return user.tenant.slug if user.tenant_id else ""


class ApiKeyResource(resources.ModelResource):
    """API keys for export: never the hash."""

    class Meta:
        model = ApiKey
        fields = ("id", "name", "prefix", "user__username", "created_at", "last_used_at", "revoked_at")
