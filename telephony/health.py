"""GET /health/: database, Redis and every PBX link's state, as JSON."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from telephony import linkstate


def _database() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "engine": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return {"status": "error", "error": str(exc)[:200]}


def _redis() -> dict[str, str]:
    if not settings.REDIS_URL:
        return {"status": "not configured (embedded mode)"}
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "error": str(exc)[:200]}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database, redis_state = _database(), _redis()
    links = linkstate.all_link_states()
    if not getattr(request.user, "is_system_owner", False):
        # Anonymous monitoring sees each link's status; names, holders and errors are for
        # system owners (a shared PBX's details are not any one tenant's business).
        links = {pbx_id: {"status": state["status"]} for pbx_id, state in links.items()}
    healthy = database["status"] == "ok" and redis_state["status"] != "error"
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "database": database, "redis": redis_state, "pbx": links},
        status=200 if healthy else 503,
    )
