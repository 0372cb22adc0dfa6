"""The latest live view of each tenant, shared through the cache (Redis in hosted mode).

The process that holds a PBX link publishes each tenant's view (Engine.tenant_view) here after
every batch of deltas; web processes (API, console snapshot on connect) read it. Views carry a
`version` so a reader can drop a stale one.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

KEY = "live-view:{}"
# A view outlives its holder only briefly: a PBX nobody holds has no live state.
TTL_SECONDS = 300


def put_tenant_view(tenant_id: Any, view: dict[str, Any]) -> None:
    cache.set(KEY.format(tenant_id), view, timeout=TTL_SECONDS)


def tenant_view(tenant_id: Any) -> dict[str, Any] | None:
    return cache.get(KEY.format(tenant_id))


def clear_tenant_view(tenant_id: Any) -> None:
    cache.delete(KEY.format(tenant_id))
