"""telephony.engine: the pure call-state engine (no I/O, no Django). See docs/architecture.md."""

from __future__ import annotations

from .engine import Engine
from .model import COLOURS, Delta
from .tenancy import TenantMap

__all__ = ["COLOURS", "Delta", "Engine", "TenantMap"]
