"""Tenant scope: the one layer that keeps one tenant's rows away from another.

Every tenant-owned model derives from `TenantOwned`; its default manager is a django-scopes
`ScopedManager` that raises `ScopeError` when no tenant scope is active, so a forgotten filter
fails loudly instead of leaking. The scope is entered from the acting user, never from request
data: in `TenantScopeMiddleware` (HTTP), the console consumer, Celery tasks and the AMI link.

Escape hatch for code that really must see every tenant (migrations, the AMI link building its
endpoint map, system-owner admin): `dangerously_all_tenants()`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import models
from django_scopes import ScopedManager, scope, scopes_disabled

if TYPE_CHECKING:
    from accounts.models import Tenant, User


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | uuid.UUID | None) -> TenantQuerySet:
        """Rows of one tenant; None (a tenant-less user who is not a system owner) gets none."""
        if tenant is None:
            return self.none()
        return self.filter(tenant=tenant)


class TenantOwned(models.Model):
    """Abstract base of every model that belongs to exactly one tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = ScopedManager(tenant="tenant", _manager_class=models.Manager.from_queryset(TenantQuerySet))

    class Meta:
        abstract = True


@contextmanager
def tenant_scope(user: User | Any) -> Iterator[None]:
    """Enter the scope the given user may see: their tenant, all (system owner) or nothing."""
    if getattr(user, "is_system_owner", False):
        with scopes_disabled():
            yield
        return
    tenant_id = getattr(user, "tenant_id", None)
    # A list filters with __in: [] means "no tenant at all" (django-scopes treats None as "all").
    with scope(tenant=tenant_id if tenant_id is not None else []):
        yield


@contextmanager
def tenant_scope_for(tenant_id: uuid.UUID | str) -> Iterator[None]:
    """Enter one tenant's scope (Celery tasks and the AMI link act for a known tenant)."""
    with scope(tenant=tenant_id):
        yield


dangerously_all_tenants = scopes_disabled
