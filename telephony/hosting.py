"""Who runs the PbxRunners: one holder per PBX, chosen by a Redis lease (hosted), or the web
process itself (embedded, AMI_EMBEDDED_LINKS).

Hosted: every `celery -A config worker -Q ami --pool=threads` runs `AmiLinksStep` (registered
in config/celery.py). Every lease/3 seconds it tries, per enabled PbxServer, to take the lease
(`SET key holder NX PX ttl`) or renew it (a Lua script renews only if the value is still
ours: a worker that stalled past its lease must not renew someone else's). The holder runs
the PbxRunner and consumes the Celery queue `ami.<pbx_id>`, so `telephony.tasks.ami_send`
lands in the process that owns the socket; hence the threads pool: a prefork child would not
see the runner. A holder that cannot renew stops its runner BEFORE its lease runs out, so two
workers never hold one PBX at once; on shutdown it releases its leases at once, so the next
worker takes over within one tick instead of one lease period.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from telephony.runner import PbxRunner

log = logging.getLogger(__name__)

LEASE_KEY = "switchboard:ami-lease:{}"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

_runners: dict[str, PbxRunner] = {}
_runners_lock = threading.Lock()


# --- the local registry -----------------------------------------------------------------------
def runner_for(pbx_id: Any) -> PbxRunner | None:
    """The runner of this PBX if this process holds its link, else None."""
    with _runners_lock:
        return _runners.get(str(pbx_id))


def start_runner(pbx: Any, *, holder: str = "", **options: Any) -> PbxRunner:
    """Start (or return the running) runner for one PbxServer row in this process."""
    key = str(pbx.pk)
    with _runners_lock:
        runner = _runners.get(key)
        if runner is not None:
            return runner
        runner = PbxRunner.for_server(pbx, holder=holder, **options)
        _runners[key] = runner
    runner.start()
    return runner


def stop_runner(pbx_id: Any) -> None:
    with _runners_lock:
        runner = _runners.pop(str(pbx_id), None)
    if runner is not None:
        runner.stop()


def stop_all() -> None:
    with _runners_lock:
        ids = list(_runners)
    for pbx_id in ids:
        stop_runner(pbx_id)


def enabled_servers() -> list[Any]:
    from telephony.models import PbxServer

    return list(PbxServer.objects.filter(enabled=True))


def start_embedded(**options: Any) -> list[PbxRunner]:
    """Embedded mode (make run): run every enabled PBX's link in threads of this process."""
    holder = f"embedded/{socket.gethostname()}/{os.getpid()}"
    return [start_runner(pbx, holder=holder, **options) for pbx in enabled_servers()]


def start_embedded_in_background() -> threading.Thread:
    """Start the embedded links without doing database I/O while the ASGI app is imported."""

    def run() -> None:
        try:
            runners = start_embedded()
            log.info("embedded mode: %d PBX link(s) started in this process", len(runners))
        except Exception:  # noqa: BLE001 - e.g. not migrated yet: the web still serves
            log.exception("embedded mode: could not start the PBX links")

    thread = threading.Thread(target=run, name="ami-embedded-start", daemon=True)
    thread.start()
    return thread


# --- the lease ---------------------------------------------------------------------------------
class Lease:
    """One worker's claim on one PBX link in Redis (value = the holder's id)."""

    def __init__(self, client: Any, pbx_id: Any, holder: str, ttl_ms: int) -> None:
        self.client, self.key, self.holder, self.ttl_ms = client, LEASE_KEY.format(pbx_id), holder, ttl_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        """Take the lease if free, or renew it if already ours."""
        if self.client.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            return True
        return self.renew()

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.holder])


def lease_holder(client: Any, pbx_id: Any) -> str | None:
    value = client.get(LEASE_KEY.format(pbx_id))
    return value.decode() if isinstance(value, bytes) else value


class LeaseKeeper:
    """Competes for the lease of every enabled PBX; starts/stops what it wins/loses.

    `on_acquire(pbx)` and `on_lose(pbx_id)` run on the keeper's thread. Not tied to Celery,
    so it can be tested (and reused) alone; AmiLinksStep wires it into a worker.
    """

    def __init__(
        self,
        client: Any,
        holder: str,
        *,
        lease_seconds: float,
        on_acquire: Callable[[Any], None],
        on_lose: Callable[[str], None],
        servers: Callable[[], Iterable[Any]] = enabled_servers,
    ) -> None:
        self.client, self.holder = client, holder
        self.ttl_ms = int(lease_seconds * 1000)
        self.interval = lease_seconds / 3
        self._on_acquire, self._on_lose, self._servers = on_acquire, on_lose, servers
        self.held: dict[str, Lease] = {}
        self._valid_until: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ami-lease-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop competing, stop what we hold and release its leases."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.interval + 5)
        for pbx_id in list(self.held):
            self._lose(pbx_id, release=True)

    def _run(self) -> None:
        from django.db import close_old_connections

        while not self._stop.is_set():
            try:
                close_old_connections()  # long-lived thread: drop a connection the DB closed
                self.tick()
            except Exception:  # noqa: BLE001 - Redis or the DB down: keep trying, never die
                log.exception("lease keeper %s: tick failed", self.holder)
                self._expire_overdue()
            self._stop.wait(self.interval)

    def tick(self) -> None:
        servers = {str(pbx.pk): pbx for pbx in self._servers()}
        for pbx_id in list(self.held):
            if pbx_id not in servers:  # disabled or deleted
                self._lose(pbx_id, release=True)
        for pbx_id, pbx in servers.items():
            if self._stop.is_set():
                return
            lease = self.held.get(pbx_id)
            started = time.monotonic()
            if lease is not None:
                if lease.renew():
                    self._valid_until[pbx_id] = started + self.ttl_ms / 1000
                    runner = runner_for(pbx_id)
                    if runner is not None:
                        runner.refresh_state()
                else:
                    log.warning("lease keeper %s: lost the lease of PBX %s", self.holder, pbx_id)
                    self._lose(pbx_id, release=False)
                continue
            lease = Lease(self.client, pbx_id, self.holder, self.ttl_ms)
            if lease.acquire():
                log.info("lease keeper %s: took the lease of PBX %s", self.holder, pbx_id)
                self.held[pbx_id] = lease
                self._valid_until[pbx_id] = started + self.ttl_ms / 1000
                try:
                    self._on_acquire(pbx)
                except Exception:  # noqa: BLE001
                    log.exception("lease keeper %s: starting PBX %s failed", self.holder, pbx_id)
                    self._lose(pbx_id, release=True)

    def _expire_overdue(self) -> None:
        """Renewal impossible (Redis down): give up a link before its lease can pass to another."""
        margin = self.interval
        now = time.monotonic()
        for pbx_id, until in list(self._valid_until.items()):
            if now >= until - margin:
                log.warning("lease keeper %s: cannot renew PBX %s; stopping its link", self.holder, pbx_id)
                self._lose(pbx_id, release=False)

    def _lose(self, pbx_id: str, *, release: bool) -> None:
        lease = self.held.pop(pbx_id, None)
        self._valid_until.pop(pbx_id, None)
        try:
            self._on_lose(pbx_id)
        except Exception:  # noqa: BLE001
            log.exception("lease keeper %s: stopping PBX %s failed", self.holder, pbx_id)
        if release and lease is not None:
            try:
                lease.release()
            except Exception:  # noqa: BLE001
                log.exception("lease keeper %s: releasing PBX %s failed", self.holder, pbx_id)


def holder_id(hostname: str) -> str:
    """Unique per worker process and start: `<celery hostname>/<pid>/<random>`."""
    return f"{hostname}/{os.getpid()}/{uuid.uuid4().hex[:6]}"


def ami_queue(pbx_id: Any) -> str:
    return f"ami.{pbx_id}"


# --- the Celery bootstep (config/celery.py registers it; these do the work) ---------------------
def worker_start(c: Any) -> LeaseKeeper | None:
    """Consumer bootstep start: compete for leases, but only in workers consuming `ami`."""
    if "ami" not in c.app.amqp.queues.consume_from:
        return None
    import redis
    from django.conf import settings

    if "prefork" in type(c.pool).__module__:
        log.error("ami workers need --pool=threads: tasks on ami.<pbx> must run beside the link")
    holder = holder_id(c.hostname)

    def on_acquire(pbx: Any) -> None:
        start_runner(pbx, holder=holder)
        # The consumer is not thread-safe: let its own loop add the queue.
        c.call_soon(c.add_task_queue, ami_queue(pbx.pk))

    def on_lose(pbx_id: str) -> None:
        c.call_soon(c.cancel_task_queue, ami_queue(pbx_id))
        stop_runner(pbx_id)

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    keeper = LeaseKeeper(
        client, holder, lease_seconds=settings.AMI_LEASE_SECONDS, on_acquire=on_acquire, on_lose=on_lose
    )
    log.info("AMI links: worker %s competes for PBX leases", holder)
    keeper.start()
    return keeper


def worker_stop(keeper: LeaseKeeper | None) -> None:
    """Consumer bootstep stop/shutdown: stop the links and release their leases now."""
    if keeper is not None:
        keeper.stop()
