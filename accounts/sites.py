"""The admin site: for tenant owners (their tenant) and system owners (everything).

Installed through `SwitchboardAdminConfig` in INSTALLED_APPS, so `admin.site` is this site
everywhere; kept apart from accounts/admin.py, which registers models on it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class SwitchboardAdminSite(admin.AdminSite):
    """Tenant owners and system owners only; tenant owners are never superusers or staff."""

    site_header = "Switchboard administration"
    site_title = "Switchboard admin"
    index_title = "Tenant administration"

    @property
    def login_form(self):  # type: ignore[override]
        from accounts.forms import TenantAdminAuthenticationForm

        return TenantAdminAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_tenant_admin", False))


class SwitchboardAdminConfig(AdminConfig):
    default_site = "accounts.sites.SwitchboardAdminSite"
