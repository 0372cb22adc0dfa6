"""PBX servers, users' reachable accounts, finished calls and the audit log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.models import Tenant
from accounts.scoping import TenantOwned
from telephony.numbers import validate_extension, validate_phone_number


class PbxServer(models.Model):
    """An Asterisk reached over AMI. Serves one tenant or several (see PbxTenant).

    Managed by system owners only: on a shared PBX the AMI secret is not one tenant's to see.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    host = models.CharField("AMI host", max_length=255)
    port = models.PositiveIntegerField("AMI port", default=5038)
    username = models.CharField("AMI user", max_length=100)
    secret = models.CharField("AMI secret", max_length=255)
    enabled = models.BooleanField(default=True)
    tenants = models.ManyToManyField(Tenant, through="PbxTenant", related_name="pbx_servers")

    class Meta:
        ordering = ["name"]
        verbose_name = "PBX server"

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class PbxTenant(models.Model):
    """Which tenant a PBX serves, and what marks that tenant's channels on a shared PBX.

    On a PBX of its own a tenant needs neither mark. On a shared PBX a channel belongs to the
    tenant whose `context` it runs in, or whose `endpoint_prefix` its endpoint name starts with
    (endpoint name = prefix + extension, e.g. `acme-1001`).
    """

    pbx = models.ForeignKey(PbxServer, on_delete=models.CASCADE, related_name="tenant_links")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="pbx_links")
    context = models.CharField(
        max_length=80, blank=True, help_text="Dialplan context of this tenant's phones."
    )
    endpoint_prefix = models.CharField(
        max_length=40, blank=True, help_text="Prefix of this tenant's endpoint names."
    )

    class Meta:
        verbose_name = "tenant on PBX"
        # A PBX may serve several tenants; a tenant is served by exactly one PBX.
        constraints = [models.UniqueConstraint(fields=["tenant"], name="one_pbx_per_tenant")]

    def __str__(self) -> str:
        return f"{self.tenant} on {self.pbx.name}"


class AccountKind(models.TextChoices):
    EXTENSION = "extension", "Extension"
    ALTERNATIVE = "alternative", "Alternative number"
    VOICEMAIL = "voicemail", "Voicemail box"


class Account(TenantOwned):
    """Somewhere a user can be reached: an extension, an alternative number or a voicemail box."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="accounts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="accounts")
    kind = models.CharField(max_length=12, choices=AccountKind.choices, default=AccountKind.EXTENSION)
    number = models.CharField(
        max_length=21, help_text="Extension (1001), phone number (+4930123456) or mailbox."
    )
    label = models.CharField(max_length=60, blank=True, help_text="e.g. Mobile, Home office.")
    is_default = models.BooleanField("default", default=False, help_text="Used when a call names no account.")

    class Meta:
        ordering = ["user", "-is_default", "kind", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "number"], name="account_number_per_tenant"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="one_default_account_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def clean(self) -> None:
        super().clean()
        validator = validate_phone_number if self.kind == AccountKind.ALTERNATIVE else validate_extension
        try:
            validator(self.number)
        except ValidationError as exc:
            raise ValidationError({"number": exc.messages}) from exc
        if self.user_id is not None and self.tenant_id is not None and self.user.tenant_id != self.tenant_id:
            raise ValidationError({"user": "That user belongs to another tenant."})


class Direction(models.TextChoices):
    INTERNAL = "internal", "Internal"
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    QUEUE = "queue", "From a queue"


class Disposition(models.TextChoices):
    ANSWERED = "answered", "Answered"
    MISSED = "missed", "Missed"
    ABANDONED = "abandoned", "Abandoned"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"


class CallRecord(TenantOwned):
    """A finished call (one Asterisk Linkedid), written when its last channel hangs up."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="call_records")
    pbx = models.ForeignKey(PbxServer, on_delete=models.SET_NULL, null=True, related_name="+")
    linkedid = models.CharField(max_length=64)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    disposition = models.CharField(max_length=10, choices=Disposition.choices)
    caller = models.CharField(max_length=64, blank=True)
    callee = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=80, blank=True)
    parties = models.JSONField(default=list, help_text="Extensions and numbers that took part, in order.")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="call_records")
    transfers = models.JSONField(default=list, help_text="Who transferred the call where, in order.")
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["pbx", "linkedid"], name="one_record_per_call")]
        indexes = [models.Index(fields=["tenant", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.caller} → {self.callee} ({self.get_disposition_display()})"

    @property
    def duration_seconds(self) -> int:
        return int((self.ended_at - (self.answered_at or self.started_at)).total_seconds())


class AuditResult(models.TextChoices):
    OK = "ok", "Done"
    DENIED = "denied", "Denied"
    INVALID = "invalid", "Invalid input"
    FAILED = "failed", "Failed"


class AuditEntry(TenantOwned):
    """One attempted operation: allowed, denied or failed. Written for every attempt."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="audit_entries"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept when the user is deleted.")
    operation = models.CharField(max_length=40, db_index=True)
    target = models.CharField(
        max_length=200, blank=True, help_text="Call, channel, account or queue acted on."
    )
    destination = models.CharField(max_length=200, blank=True)
    result = models.CharField(max_length=10, choices=AuditResult.choices, db_index=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.operation} {self.result}"
