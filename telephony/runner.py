"""PbxRunner: one PBX's link + engine + publishing, in the process that holds the link.

connect → Login → FullyBooted → resync (snapshot actions, rows into the engine) → live.

Concurrency: frames arrive on the link's reader thread, the snapshot runs on the link's
supervisor thread, and Celery tasks / views read views from others. One lock guards the
engine; everything that touches it (feed, resync, tenant_view) takes it.

Resync: while the snapshot actions run, live events keep arriving. They are held back here,
in order, and fed after `engine.end_resync()`: every engine update is idempotent and
order-tolerant (DESIGN.md), so an event older than the snapshot is a no-op and a newer one
wins. The engine may buffer between begin/end as well; it then simply sees no live frames.

Actions: `send` tells the engine about every action before a byte of it is written
(`engine.note_action`, with its ActionID): the spy mode of a ChanSpy Originate is matched to
its OriginateResponse by ActionID, and a Redirect (AMI raises no event for it) becomes a step
of the call's history. An async Originate waits for its OriginateResponse (its real outcome).

Publishing: deltas come from the reader thread and from senders' threads; `_emit` holds a
lock of its own while it reads the views and writes them out, so an older view can never
overwrite a newer one in the cache.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db import close_old_connections

from telephony import linkstate
from telephony.ami.framing import Frame
from telephony.ami.link import AUTO, AmiLink, AmiResult, awaited_event
from telephony.engine.resync import SNAPSHOT_ACTIONS

if TYPE_CHECKING:
    from telephony.models import PbxServer

log = logging.getLogger(__name__)


class EngineLike(Protocol):
    """What the runner needs of telephony.engine.Engine (docs/architecture.md "Engine")."""

    def feed(self, frame: Frame) -> list[Any]: ...
    def begin_resync(self) -> None: ...
    def end_resync(self) -> list[Any]: ...
    def tenant_view(self, tenant_id: Any) -> dict[str, Any]: ...

    # Optional (`note_action(action: dict) -> deltas`): told about every action sent.


Publish = Callable[[Any, Sequence[Any], Any], None]


class _LockedViews:
    """What `publish` gets as its engine: tenant views read under the engine lock."""

    def __init__(self, engine: EngineLike, lock: threading.RLock) -> None:
        self._engine, self._lock = engine, lock

    def tenant_view(self, tenant_id: Any) -> dict[str, Any]:
        with self._lock:
            return self._engine.tenant_view(tenant_id)


def tenant_map_for(pbx: PbxServer) -> Any:
    """The engine's TenantMap for one PBX, from PbxTenant marks and extension accounts.

    A PBX of one tenant without marks: that tenant by default. Endpoint names are the
    tenant's prefix + extension number. Reads every tenant on purpose (the link is per PBX).
    """
    from accounts.scoping import dangerously_all_tenants
    from telephony.engine import TenantMap
    from telephony.models import Account, AccountKind

    links = list(pbx.tenant_links.all())
    contexts = {link.context: link.tenant_id for link in links if link.context}
    prefixes = {link.endpoint_prefix: link.tenant_id for link in links if link.endpoint_prefix}
    endpoints: dict[str, Any] = {}
    with dangerously_all_tenants():
        for link in links:
            numbers = Account.objects.filter(tenant_id=link.tenant_id, kind=AccountKind.EXTENSION)
            for number in numbers.values_list("number", flat=True):
                endpoints[f"{link.endpoint_prefix}{number}"] = link.tenant_id
    default = (
        links[0].tenant_id
        if len(links) == 1 and not links[0].context and not links[0].endpoint_prefix
        else None
    )
    return TenantMap(endpoints=endpoints, contexts=contexts, prefixes=prefixes, default_tenant=default)


def _default_publish(pbx_id: Any, deltas: Sequence[Any], engine: Any) -> None:
    from telephony.bus import submit

    submit(pbx_id, deltas, engine)


class PbxRunner:
    def __init__(
        self,
        pbx_id: Any,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        engine: EngineLike,
        publish: Publish | None = None,
        holder: str = "",
        snapshot_timeout: float = 30.0,
        tenant_map: Callable[[], Any] | None = None,
        reconcile_every: float = 0.0,
        **link_options: Any,
    ) -> None:
        """`tenant_map`: called before every snapshot, so users and extensions added since
        the last one are known; `reconcile_every`: seconds between snapshots of a live link
        (0: only on connect), which also repairs anything the event stream missed."""
        self.pbx_id = str(pbx_id)
        self.engine = engine
        self._tenant_map = tenant_map
        self.reconcile_every = reconcile_every
        self._stopping = threading.Event()
        self._resync_lock = threading.Lock()
        self.holder = holder
        self.lock = threading.RLock()
        self._publish_lock = threading.Lock()
        self.snapshot_timeout = snapshot_timeout
        self._publish = publish or _default_publish
        self._views = _LockedViews(engine, self.lock)
        self._resyncing = False
        self._held_back: list[Frame] = []
        self.resyncs = 0
        wanted = getattr(engine, "WANTED_EVENTS", None)
        # The link name prefixes every ActionID: it tells, in the PBX's view, who holds it.
        name = f"pbx-{self.pbx_id[:8]}@{holder}" if holder else f"pbx-{self.pbx_id[:8]}"
        self.link = AmiLink(
            host,
            port,
            username,
            secret,
            name=name,
            on_frame=self._on_frame,
            on_state=self._on_state,
            on_ready=self._on_ready,
            wanted_events=wanted,
            **link_options,
        )

    @classmethod
    def for_server(
        cls, pbx: PbxServer, *, publish: Publish | None = None, holder: str = "", **options: Any
    ) -> PbxRunner:
        from telephony.engine import Engine

        engine = Engine(tenants=tenant_map_for(pbx))
        options.setdefault("tenant_map", lambda: tenant_map_for(pbx))
        options.setdefault("reconcile_every", settings.AMI_RECONCILE_SECONDS)
        return cls(
            pbx.pk,
            pbx.host,
            pbx.port,
            pbx.username,
            pbx.secret,
            engine=engine,
            publish=publish,
            holder=holder,
            **options,
        )

    # --- public ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self.link.start()
        if self.reconcile_every > 0:
            name = f"{self.link.name}-reconcile"
            threading.Thread(target=self._reconcile_loop, name=name, daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self.link.stop()
        if self._publish is _default_publish:
            from telephony.bus import flush

            flush()  # what the link read before it stopped is published before stop returns

    def _reconcile_loop(self) -> None:
        while not self._stopping.wait(self.reconcile_every):
            if self.link.state != "connected":
                continue
            try:
                self._on_ready(self.link)
            except Exception:  # noqa: BLE001 - the next round, or the next connect, retries
                log.exception("PBX %s: periodic snapshot failed", self.pbx_id)

    def send(
        self,
        action: str,
        headers: Iterable[tuple[str, str]] = (),
        timeout: float = 5.0,
        *,
        await_event: str | None = AUTO,
    ) -> AmiResult:
        """Send one action on the link, noted to the engine first (module docstring).

        `await_event`: AUTO waits for the event `awaited_event` names (OriginateResponse for an
        async Originate), None for the response only, or an event name (AmiLink.send).
        """
        headers = [(str(k), str(v)) for k, v in headers]
        if await_event == AUTO:
            await_event = awaited_event(action, headers)
        return self.link.send(
            action,
            headers,
            timeout,
            await_event=await_event,
            before_send=lambda action_id: self._note_action(action, headers, action_id),
        )

    def tenant_view(self, tenant_id: Any) -> dict[str, Any]:
        return self._views.tenant_view(tenant_id)

    def refresh_state(self) -> None:
        """Re-write the link state, so readers can tell a live holder from a dead one."""
        self._on_state(self.link.state, self.link.detail)

    def _note_action(self, action: str, headers: Sequence[tuple[str, str]], action_id: str) -> None:
        """Tell the engine about an action about to be written (caller's thread); publish."""
        note = getattr(self.engine, "note_action", None)
        if note is None:
            return
        frame: dict[str, Any] = {}
        for key, value in headers:
            if key.lower() == "actionid":
                continue
            if key in frame:  # repeated headers (Variable) as lists, as in the `.actions` files
                previous = frame[key]
                frame[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                frame[key] = value
        frame["Action"], frame["ActionID"] = action, action_id
        try:
            with self.lock:
                deltas = list(note(frame) or ())
        except Exception:  # noqa: BLE001 - the engine's bookkeeping must not stop the action
            log.exception("PBX %s: engine.note_action failed for %s", self.pbx_id, action)
            return
        self._emit(deltas)

    # --- link callbacks --------------------------------------------------------------------
    def _emit(self, deltas: Sequence[Any]) -> None:
        if not deltas:
            return
        try:
            with self._publish_lock:
                self._publish(self.pbx_id, deltas, self._views)
        except Exception:  # noqa: BLE001 - a publishing failure must not stop the link
            log.exception("PBX %s: publishing %d deltas failed", self.pbx_id, len(deltas))

    def _on_frame(self, frame: Frame) -> None:
        with self.lock:
            if self._resyncing:
                self._held_back.append(frame)
                return
            deltas = self.engine.feed(frame)
        self._emit(deltas)

    def _on_ready(self, link: AmiLink) -> None:
        """Take the snapshot (link supervisor thread on connect, or the reconcile loop).
        Raising drops the session: retried."""
        with self._resync_lock:
            self._resync(link)

    def _resync(self, link: AmiLink) -> None:
        tenants = None
        if self._tenant_map is not None:
            close_old_connections()  # a long-lived thread: never reuse a dead connection
            tenants = self._tenant_map()
        with self.lock:
            if tenants is not None:
                self.engine.tenants = tenants
            self._resyncing = True
            self._held_back = []
            self.engine.begin_resync()
        for action in SNAPSHOT_ACTIONS:
            result = link.send(action, timeout=self.snapshot_timeout)
            if not result.ok:
                # e.g. app_queue or res_parking not loaded: the rest of the snapshot still counts.
                log.warning("PBX %s: snapshot %s refused: %s", self.pbx_id, action, result.message)
                continue
            with self.lock:
                for row in result.events:
                    self.engine.feed(row)
        with self.lock:
            deltas = list(self.engine.end_resync())
            for frame in self._held_back:
                deltas.extend(self.engine.feed(frame))
            self._held_back = []
            self._resyncing = False
            self.resyncs += 1
        self._emit(deltas)

    def _on_state(self, status: str, detail: str) -> None:
        try:
            if status == "disconnected" and detail == "stopped":
                # Stopping after losing the lease: the new holder may have written already.
                current = linkstate.get_link_state(self.pbx_id)
                if current.get("holder") not in ("", self.holder):
                    return
            linkstate.set_link_state(self.pbx_id, status, detail, holder=self.holder)
        except Exception:  # noqa: BLE001 - the cache (Redis) being down must not stop the link
            log.exception("PBX %s: could not record link state %s", self.pbx_id, status)


def parse_pbx_id(value: Any) -> str:
    """Normalise a PBX id from a task argument or a queue name (UUID text)."""
    return str(uuid.UUID(str(value)))
