"""Which tenant owns what on a PBX: TenantMap.

Rules (docs/architecture.md "Engine"):
- A user extension is an endpoint named in `endpoints` or starting with a key of `prefixes`.
  Every other PJSIP/SIP/IAX2/DAHDI endpoint is a trunk (e.g. `carrier`): that is how the
  colour rules tell an outside party from an internal one without knowing the trunk names.
- A channel belongs to the tenant of its endpoint, else of its context (`contexts`), else of
  another channel of the same call that is assigned (a trunk leg of a tenant's call), else to
  `default_tenant`. A channel that stays unassigned is dropped from every view and delta.
- Queues and parking lots belong to a tenant by name: `queues` / `lots` name it explicitly,
  else a name starting with a key of `prefixes` (e.g. queue `acme-support` with prefix
  `acme-`), else `default_tenant`. A parked call in a lot nobody owns shows to the tenant of
  the parked channel; a queue nobody owns is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TenantMap:
    endpoints: Mapping[str, Any] = field(default_factory=dict)
    contexts: Mapping[str, Any] = field(default_factory=dict)
    prefixes: Mapping[str, Any] = field(default_factory=dict)
    default_tenant: Any = None
    queues: Mapping[str, Any] = field(default_factory=dict)
    lots: Mapping[str, Any] = field(default_factory=dict)

    def endpoint_tenant(self, name: str | None) -> Any:
        """Tenant of a user extension, or None when `name` is not a user extension."""
        if not name:
            return None
        tenant = self.endpoints.get(name)
        if tenant is not None:
            return tenant
        for prefix, tenant in self.prefixes.items():
            if name.startswith(prefix):
                return tenant
        return None

    def is_user(self, name: str | None) -> bool:
        return self.endpoint_tenant(name) is not None

    def context_tenant(self, context: str | None) -> Any:
        return self.contexts.get(context) if context else None

    def _named(self, explicit: Mapping[str, Any], name: str) -> Any:
        tenant = explicit.get(name)
        if tenant is not None:
            return tenant
        for prefix, tenant in self.prefixes.items():
            if name.startswith(prefix):
                return tenant
        return self.default_tenant

    def queue_tenant(self, name: str) -> Any:
        return self._named(self.queues, name)

    def lot_tenant(self, name: str) -> Any:
        return self._named(self.lots, name)

    def tenants(self) -> set[Any]:
        found = {*self.endpoints.values(), *self.contexts.values(), *self.prefixes.values()}
        found.update(self.queues.values())
        found.update(self.lots.values())
        if self.default_tenant is not None:
            found.add(self.default_tenant)
        return found

    def user_endpoints(self, tenant: Any) -> list[str]:
        return [name for name, owner in self.endpoints.items() if owner == tenant]
