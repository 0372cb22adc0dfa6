"""What every PBX link is doing, shared through the cache (Redis in hosted mode).

The link holder writes; the health endpoint, the API and the console read. States:
`connecting`, `connected` (logged in, booted, snapshot applied), `disconnected`,
`auth_failed` ("authentication failed": no tight reconnect loop), `disabled`.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

KEY = "pbx-link:{}"
# A state not refreshed for this long is stale: its holder is gone.
STALE_AFTER = 60


def set_link_state(pbx_id: Any, status: str, detail: str = "", holder: str = "") -> None:
    cache.set(
        KEY.format(pbx_id),
        {"status": status, "detail": detail, "holder": holder, "since": time.time()},
        timeout=STALE_AFTER * 10,
    )


def get_link_state(pbx_id: Any) -> dict[str, Any]:
    state = cache.get(KEY.format(pbx_id))
    if state is None:
        return {"status": "unknown", "detail": "no worker holds this link", "holder": "", "since": None}
    return state


def is_connected(pbx_id: Any) -> bool:
    return get_link_state(pbx_id)["status"] == "connected"


def all_link_states() -> dict[str, dict[str, Any]]:
    from telephony.models import PbxServer

    return {
        str(pbx.pk): {"name": pbx.name, **get_link_state(pbx.pk)}
        if pbx.enabled
        else {"name": pbx.name, "status": "disabled"}
        for pbx in PbxServer.objects.all()
    }
