"""Writes of the accounts app (HackSoft style: keyword-only, atomic, one place per write)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from accounts.models import OPERATION_RIGHTS, VIEW_RIGHTS, ApiKey, Department, Role, Tenant, User

# Rights a key can be given when it is created; the rest are edited on its service user.
API_KEY_RIGHTS = VIEW_RIGHTS[1:] + OPERATION_RIGHTS


def api_key_create(
    *,
    tenant_id: Any,
    name: str,
    user: User | None = None,
    role: str = Role.USER,
    department: Department | None = None,
    rights: Iterable[str] = (),
) -> tuple[ApiKey, str]:
    """Create an API key (and its service user unless one is given); returns (row, raw key).

    The key acts as its service user: the user's role and rights are the key's. Only the
    SHA-256 and the first characters are stored: the raw key exists only in the returned
    value, shown once to whoever created it.
    """
    granted = {field: True for field in rights if field in API_KEY_RIGHTS}
    raw = ApiKey.generate()
    with transaction.atomic():
        if user is None:
            tenant = Tenant.objects.get(pk=tenant_id)
            user = User(
                username=f"api-{tenant.slug}-{secrets.token_hex(4)}",
                first_name=name[:150],
                last_name="(API key)",
                tenant=tenant,
                department=department,
                role=role,
                is_service_account=True,
                **granted,
            )
            user.set_unusable_password()
            user.full_clean()
            user.save()
        key = ApiKey(
            tenant_id=tenant_id,
            name=name,
            user=user,
            prefix=raw[: ApiKey.PREFIX_LENGTH],
            key_hash=ApiKey.hash(raw),
        )
        key.full_clean(exclude=["user"])
        key.save()
    return key, raw
