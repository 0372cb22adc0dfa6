"""Tenants, departments, people and their rights.

Rights are plain fields on the user, edited in Django admin; what they allow is decided in one
place, accounts/rules.py.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from accounts.scoping import TenantOwned, TenantQuerySet

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,48}$", "Use lower-case letters, digits and dashes.")


class Tenant(models.Model):
    """A company using Switchboard. Nothing of one tenant is ever visible to another."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120, unique=True)
    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(TenantOwned):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="department_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    USER = "user", "User"
    MANAGER = "manager", "Manager"
    OWNER = "owner", "Owner (tenant)"
    SYSTEM_OWNER = "system_owner", "System owner (platform)"


class RecordingPolicy(models.TextChoices):
    OFF = "off", "Off"
    EXTERNAL = "external", "External calls only"
    ALL = "all", "All calls"


# The right fields of User, by kind: admin filters and bulk actions, CSV columns, API keys.
VIEW_RIGHTS = ("show_my_calls", "can_see_presence", "can_see_calls")
OPERATION_RIGHTS = ("can_pickup", "can_transfer", "can_park", "can_intercom", "can_control_ivr")
RECORDING_RIGHTS = ("show_call_recording", "can_delete_recordings", "can_control_recording")
RIGHT_FIELDS = VIEW_RIGHTS + OPERATION_RIGHTS + RECORDING_RIGHTS


class SwitchboardUserManager(UserManager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    """Users are not scope-guarded (login must find them before any scope); use for_tenant()."""


class User(AbstractUser):
    """A person (or an API key's service user) of one tenant; system owners have no tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    is_service_account = models.BooleanField(
        default=False, help_text="An API key acts as this user; it cannot log in to the web."
    )

    # View rights.
    show_my_calls = models.BooleanField(
        "show my calls",
        default=True,
        help_text="Colleagues who can see my calls also see the number I talk to (off: 'on a call').",
    )
    can_see_presence = models.BooleanField(
        "presence", default=True, help_text="Sees the presence of the department's members."
    )
    can_see_calls = models.BooleanField(
        "calls", default=False, help_text="Sees the department members' calls."
    )

    # Operation rights.
    can_pickup = models.BooleanField("pickup", default=False)
    can_transfer = models.BooleanField("transfer & divert", default=True)
    can_park = models.BooleanField("park & unpark", default=True)
    can_intercom = models.BooleanField("intercom", default=False)
    can_control_ivr = models.BooleanField("control IVR", default=False)

    # Recording settings.
    recording_policy = models.CharField(
        max_length=10, choices=RecordingPolicy.choices, default=RecordingPolicy.OFF
    )
    show_call_recording = models.BooleanField(
        default=False,
        help_text="This user's recordings are visible to other departments' managers and owners.",
    )
    can_delete_recordings = models.BooleanField("allow deletion of recordings", default=False)
    can_control_recording = models.BooleanField("can start and stop recordings", default=False)

    objects = SwitchboardUserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_system_owner(self) -> bool:
        return self.role == Role.SYSTEM_OWNER

    @property
    def is_tenant_admin(self) -> bool:
        """May use Django admin: tenant owners (their tenant) and system owners (all)."""
        return self.is_active and not self.is_service_account and self.role in (Role.OWNER, Role.SYSTEM_OWNER)

    def clean(self) -> None:
        super().clean()
        if self.role == Role.SYSTEM_OWNER and self.tenant_id is not None:
            raise ValidationError({"tenant": "A system owner serves the whole platform and has no tenant."})
        if self.role != Role.SYSTEM_OWNER and self.tenant_id is None:
            raise ValidationError({"tenant": "Everyone but a system owner belongs to a tenant."})
        if self.department_id is not None and self.department.tenant_id != self.tenant_id:
            raise ValidationError({"department": "That department belongs to another tenant."})


class ApiKey(TenantOwned):
    """A per-tenant API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    PREFIX_LENGTH = 8

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    user = models.OneToOneField(
        User,
        on_delete=models.CASCADE,
        related_name="api_key",
        help_text="The service user this key acts as; its rights are the key's rights.",
    )
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="api_key_name_per_tenant")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @staticmethod
    def generate() -> str:
        return "sb_" + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
