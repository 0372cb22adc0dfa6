"""Admin of telephony: PBX servers (system owners only), accounts, and read-only call history.

Every ModelAdmin derives from accounts.admin.TenantModelAdmin: scoped to the acting user's
tenant, object permissions from accounts/rules.py, export limited to the visible rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from import_export import resources

from accounts.admin import TenantInlineMixin, TenantModelAdmin
from accounts.forms import AccountForm
from telephony import linkstate
from telephony.models import Account, AuditEntry, CallRecord, PbxServer, PbxTenant


class PbxServerResource(resources.ModelResource):
    """PBX servers for export: never the AMI secret."""

    class Meta:
        model = PbxServer
        fields = ("id", "name", "host", "port", "username", "enabled")


class PbxTenantInline(TenantInlineMixin, admin.TabularInline):
    model = PbxTenant
    fields = ("tenant", "context", "endpoint_prefix")
    extra = 0


@admin.register(PbxServer)
class PbxServerAdmin(TenantModelAdmin):
    """A shared PBX's AMI secret is no tenant's to see: system owners only."""

    tenant_lookup = None
    resource_classes = [PbxServerResource]
    inlines = [PbxTenantInline]
    list_display = ("name", "host", "port", "username", "enabled", "link_status")
    list_filter = ("enabled",)
    search_fields = ("name", "host")

    @admin.display(description="link")
    def link_status(self, obj: PbxServer) -> str:
        return linkstate.get_link_state(obj.pk)["status"] if obj.enabled else "disabled"


@admin.register(PbxTenant)
class PbxTenantAdmin(TenantModelAdmin):
    tenant_lookup = None
    list_display = ("tenant", "pbx", "context", "endpoint_prefix")
    list_select_related = ("tenant", "pbx")
    search_fields = ("tenant__name", "pbx__name", "context", "endpoint_prefix")


@admin.register(Account)
class AccountAdmin(TenantModelAdmin):
    form = AccountForm
    fields = ("tenant", "user", "kind", "number", "label", "is_default")
    list_display = ("number", "kind", "user", "label", "is_default")
    list_filter = ("kind", "is_default")
    list_select_related = ("user",)
    search_fields = ("number", "label", "user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)


class ReadOnlyMixin:
    """History is written by the system; nobody edits it in the admin (rules deny it too)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyMixin, TenantModelAdmin):
    list_display = ("started_at", "direction", "disposition", "caller", "callee", "queue", "duration")
    list_filter = ("direction", "disposition", ("started_at", admin.DateFieldListFilter))
    search_fields = ("caller", "callee", "queue", "linkedid")
    date_hierarchy = "started_at"

    @admin.display(description="duration (s)")
    def duration(self, obj: CallRecord) -> int:
        return obj.duration_seconds


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyMixin, TenantModelAdmin):
    list_display = ("created_at", "actor_name", "operation", "target", "destination", "result")
    list_filter = (
        "operation",
        "result",
        ("actor", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("actor_name", "operation", "target", "destination", "message")
    date_hierarchy = "created_at"
