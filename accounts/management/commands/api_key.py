"""`manage.py api_key create|revoke|list`: per-tenant API keys from the command line.

`create` prints the key once: only its SHA-256 is stored, so it cannot be shown again. Each key
gets its own service user (`is_service_account`, no usable password) in the tenant; the key's
rights are that user's rights, edited in Django admin like anyone's.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Department, Role, Tenant
from accounts.scoping import dangerously_all_tenants
from accounts.services import API_KEY_RIGHTS, api_key_create


class Command(BaseCommand):
    help = "Create, revoke or list per-tenant API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="create a key and print it once")
        create.add_argument("--tenant", required=True, help="tenant slug")
        create.add_argument("--name", required=True, help="what the key is for, e.g. CRM")
        create.add_argument(
            "--role",
            choices=[Role.USER.value, Role.MANAGER.value, Role.OWNER.value],
            default=Role.USER.value,
            help="owner: every user of the tenant (a CRM); manager + --department: that department",
        )
        create.add_argument("--department", default=None, help="department name (department-bound rights)")
        create.add_argument(
            "--right", action="append", default=[], choices=API_KEY_RIGHTS, help="grant a right (repeatable)"
        )
        revoke = sub.add_parser("revoke", help="revoke a key (it stops working at once)")
        revoke.add_argument("--tenant", required=True)
        revoke.add_argument("--name", required=True)
        listing = sub.add_parser("list", help="list keys (never the keys themselves)")
        listing.add_argument("--tenant", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        with dangerously_all_tenants():  # a platform command: it names the tenant explicitly
            getattr(self, f"_{options['verb']}")(**options)

    def _tenant(self, slug: str) -> Tenant:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        return tenant

    @transaction.atomic
    def _create(
        self, *, tenant: str, name: str, role: str, department: str | None, right: list[str], **_: Any
    ) -> None:
        tenant_obj = self._tenant(tenant)
        if ApiKey.objects.filter(tenant=tenant_obj, name=name).exists():
            raise CommandError(f"tenant {tenant} already has a key named {name!r}")
        dept = None
        if department:
            dept = Department.objects.filter(tenant=tenant_obj, name=department).first()
            if dept is None:
                raise CommandError(f"no department {department!r} in tenant {tenant}")
        key, raw = api_key_create(
            tenant_id=tenant_obj.pk, name=name, role=role, department=dept, rights=right
        )
        user = key.user
        self.stderr.write(
            f"API key {name!r} for {tenant_obj.slug} (service user {user.username}); shown once:"
        )
        self.stdout.write(raw)

    def _revoke(self, *, tenant: str, name: str, **_: Any) -> None:
        key = ApiKey.objects.filter(tenant=self._tenant(tenant), name=name).first()
        if key is None:
            raise CommandError(f"no key named {name!r} in tenant {tenant}")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
        self.stdout.write(f"revoked {key.name} ({key.prefix}…) at {key.revoked_at:%Y-%m-%d %H:%M:%S}")

    def _list(self, *, tenant: str | None, **_: Any) -> None:
        keys = ApiKey.objects.select_related("tenant", "user").order_by("tenant__slug", "name")
        if tenant:
            keys = keys.filter(tenant=self._tenant(tenant))
        for key in keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            self.stdout.write(
                f"{key.tenant.slug}\t{key.name}\t{key.prefix}…\t{key.user.role}\t{state}\tlast used {used}"
            )
