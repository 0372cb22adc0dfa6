"""Out of the engine: deltas → tenant live views, channel-layer groups, call history.

The PBX runner (in the process that holds the link) hands each batch of engine deltas to
`submit()`; one publisher thread per process takes them off the link's reader thread (a
response frame must not wait behind Redis writes), merges what piled up meanwhile, and calls
`publish()`. Per batch and tenant:
one live view written to the cache (telephony.livestate), one message to the tenant's group
(ids and a version only, no PII: the consumer renders what its viewer may see), and one
CallRecord per finished call.

Audiences: the group is per tenant (`t<tenant hex>`); the console decides per viewer what to
show from the live view and accounts/rules.py.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import close_old_connections, transaction

from accounts.scoping import tenant_scope_for
from telephony import livestate

log = logging.getLogger(__name__)

# In embedded mode the in-memory channel layer lives on the ASGI server's event loop; the link
# thread must hand its sends to that loop (asyncio queues are not thread-safe).
_server_loop: asyncio.AbstractEventLoop | None = None
# The publisher thread keeps one event loop, so the Redis channel layer keeps its connections.
_thread_state = threading.local()


class DeltaLike(Protocol):
    tenant_id: Any
    kind: str
    key: str


class ViewSource(Protocol):
    def tenant_view(self, tenant_id: Any) -> dict[str, Any]: ...


def tenant_group(tenant_id: Any) -> str:
    """The channel-layer group of one tenant's live state (letters and digits only)."""
    return f"t{uuid.UUID(str(tenant_id)).hex}"


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    own_loop = getattr(_thread_state, "loop", None)
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
    elif own_loop is not None:
        own_loop.run_until_complete(layer.group_send(group, message))
    else:
        async_to_sync(layer.group_send)(group, message)


class Publisher:
    """The process's publisher thread: publish() off the link threads, in submission order."""

    def __init__(self) -> None:
        # Batches (pbx_id, deltas, views), or an Event to set once everything before it is out.
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, pbx_id: Any, deltas: Iterable[DeltaLike], views: ViewSource) -> None:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bus-publisher", daemon=True)
                self._thread.start()
        self._queue.put((pbx_id, list(deltas), views))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is published (a link stopping)."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        _thread_state.loop = asyncio.new_event_loop()
        while True:
            batches = [self._queue.get()]
            while True:  # whatever piled up while the last publish ran: one publish per PBX
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            merged: dict[Any, tuple[ViewSource, list[DeltaLike]]] = {}
            flushed = [item for item in batches if isinstance(item, threading.Event)]
            for pbx_id, deltas, views in (item for item in batches if not isinstance(item, threading.Event)):
                merged.setdefault(pbx_id, (views, []))[1].extend(deltas)
            for pbx_id, (views, deltas) in merged.items():
                try:
                    publish(pbx_id, deltas, views)
                except Exception:  # noqa: BLE001 - one bad batch must not stop publishing
                    log.exception("publishing %d deltas of PBX %s failed", len(deltas), pbx_id)
            for done in flushed:
                done.set()


_publisher = Publisher()


def submit(pbx_id: Any, deltas: Iterable[DeltaLike], views: ViewSource) -> None:
    """Publish a batch of deltas soon, from the publisher thread (see the module docstring)."""
    _publisher.submit(pbx_id, deltas, views)


def flush(timeout: float = 5.0) -> bool:
    return _publisher.flush(timeout)


def publish(pbx_id: Any, deltas: Iterable[DeltaLike], engine: ViewSource) -> None:
    """Publish one batch of deltas: live views, group messages, finished calls."""
    changes: dict[Any, dict[tuple[str, str], None]] = defaultdict(dict)  # ordered, no repeats
    ended = []
    for delta in deltas:
        if delta.tenant_id is None:
            continue  # unassigned: dropped, never shown
        changes[delta.tenant_id][(delta.kind, delta.key)] = None
        if delta.kind == "call_ended":
            ended.append(delta)
    for tenant_id, tenant_changes in changes.items():
        view = engine.tenant_view(tenant_id)
        livestate.put_tenant_view(tenant_id, view)
        _group_send(
            tenant_group(tenant_id),
            {"type": "live.changed", "version": view.get("version"), "changes": list(tenant_changes)},
        )
    if ended:
        close_old_connections()
        for delta in ended:
            try:
                record_call(pbx_id, delta.tenant_id, delta.summary)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - history must never take the link down
                log.exception("could not record finished call %s", delta.key)
        close_old_connections()  # no idle connection kept by a long-lived thread


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), tz=UTC)


def record_call(pbx_id: Any, tenant_id: Any, summary: dict[str, Any]) -> None:
    """Write the CallRecord of a finished call (idempotent per PBX and Linkedid)."""
    from telephony.models import Account, AccountKind, CallRecord

    with tenant_scope_for(tenant_id), transaction.atomic():
        parties = [str(p) for p in summary.get("parties", [])]
        started = _when(summary.get("started"))
        ended = _when(summary.get("ended")) or started
        record, created = CallRecord.objects.get_or_create(
            pbx_id=pbx_id,
            linkedid=summary["linkedid"],
            defaults={
                "tenant_id": tenant_id,
                "direction": summary.get("direction", "internal"),
                "disposition": summary.get("disposition", "answered"),
                "caller": str(summary.get("caller") or "")[:64],
                "callee": str(summary.get("callee") or "")[:64],
                "queue": str(summary.get("queue") or "")[:80],
                "parties": parties,
                "transfers": list(summary.get("transfers", [])),
                "started_at": started,
                "answered_at": _when(summary.get("answered")),
                "ended_at": ended,
            },
        )
        if created and parties:
            user_ids = Account.objects.filter(kind=AccountKind.EXTENSION, number__in=parties).values_list(
                "user_id", flat=True
            )
            record.users.set(set(user_ids))
