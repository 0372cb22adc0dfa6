"""One long-lived AMI link to one Asterisk: login, FullyBooted, Ping, backoff, actions.

This is the only module that imports `asterisk.ami`. asterisk-ami 0.1.7 gives us a client
with a socket and a listen thread, but it has defects that would take a panel down, so
`_LinkClient` subclasses `AMIClient` and replaces exactly those parts:

(a) it gives the socket a 3 s timeout for connect AND recv; on an idle PBX (night, weekend)
    recv times out, the exception ends the listen thread and the link is silently dead.
    We use the timeout for connect only; liveness is our Ping, not recv.
(b) its `_futures` dict and action counter are touched by every sending thread and the listen
    thread without a lock; we guard them (ids from a per-session prefix + counter).
(c) it writes with `socket.send`, which may write only part of a frame (a long Originate
    with many `Variable:` lines, or a full socket buffer); we use `sendall`, from one writer
    thread fed by a BOUNDED queue, so a PBX that stops reading makes `send` fail fast
    (PbxBusy) instead of blocking every caller.
(d) list actions (`EventList: start` … `XxxComplete`) deliver their rows as events after the
    response, and it returns only the response; we collect the rows into AmiResult.events.
(e) an async Originate answers "Originate successfully queued" at once; its real outcome is
    the `OriginateResponse` event with the same ActionID, when the phone answers or the
    attempt fails (trace 24: an unregistered phone → Failure, Reason 0). `send(...,
    await_event="OriginateResponse")` keeps the request pending until that event (which may
    also come before the response) and puts it into AmiResult.events; `ok` is then the
    event's outcome. The event still goes to `on_frame` too, before the caller wakes.
Also: its regex framing decodes per packet and its Event/Response classes keep one value
per header (`ChanVariable`, `Output` repeat); every byte goes through
`telephony.ami.framing.FrameParser` instead, which keeps repeated headers as lists, replaces
bad UTF-8 and drops oversized frames.

Lifecycle (a supervisor thread per AmiLink): connect → Login → wait for `FullyBooted` →
on_ready (the runner's snapshot) → "connected" → Ping every `ping_interval`; no reply within
`ping_timeout` (half-open TCP), `Event: Shutdown` (trace 26a) or EOF → "disconnected" and
reconnect after a capped exponential backoff with jitter. A refused Login (trace 25) →
"auth_failed" and a long backoff: a wrong secret must not hammer the PBX's security log.
"""

from __future__ import annotations

import itertools
import logging
import queue
import random
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from asterisk.ami import AMIClient

from telephony.ami.errors import (
    ActionFailed,
    AmiError,
    AuthenticationFailed,
    PbxBusy,
    PbxNotConnected,
    PbxTimeout,
)
from telephony.ami.framing import Frame, FrameParser, encode_action

log = logging.getLogger(__name__)

# Events the link itself acts on, kept whatever the consumer asks the parser to skip.
LINK_EVENTS = frozenset({"FullyBooted", "Shutdown"})
# Rows and end markers of the list actions we know (from shared/ami-traces); kept by the
# parser even when the consumer filters events, or a list would never complete.
LIST_EVENTS = frozenset(
    {
        "ContactList",
        "ContactListComplete",
        "DeviceStateChange",
        "DeviceStateListComplete",
        "ExtensionStatus",
        "ExtensionStateListComplete",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "BridgeListItem",
        "BridgeListComplete",
        "BridgeInfoChannel",
        "BridgeInfoComplete",
        "ParkedCall",
        "ParkedCallsComplete",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "QueueStatusComplete",
        "Status",
        "StatusComplete",
    }
)

# Events a request may wait for (`await_event`), kept by the parser whatever the filter.
AWAITABLE_EVENTS = frozenset({"OriginateResponse"})

# `send(..., await_event=AUTO)` (runner, tasks): wait for what `awaited_event` says.
AUTO = "auto"

# OriginateResponse `Reason` (Asterisk's AST_CONTROL_* of the outgoing attempt).
ORIGINATE_REASONS = {
    "0": "the phone could not be called (not registered or unknown)",
    "1": "hung up",
    "3": "no answer",
    "4": "answered",
    "5": "busy",
    "8": "congestion",
}
# Asterisk's own default when an Originate has no `Timeout` header, in seconds.
ORIGINATE_DEFAULT_TIMEOUT = 30.0

StateCallback = Callable[[str, str], None]


def _true(value: str) -> bool:
    """Asterisk's ast_true()."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def awaited_event(action: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """The event that carries an action's real outcome: OriginateResponse for an async
    Originate (a synchronous one answers only when done), else None."""
    if action.lower() != "originate":
        return None
    return "OriginateResponse" if any(k.lower() == "async" and _true(v) for k, v in headers) else None


def originate_seconds(headers: Iterable[tuple[str, str]]) -> float:
    """How long the PBX lets an Originate ring before it reports Failure (`Timeout`, ms)."""
    for key, value in headers:
        if key.lower() == "timeout":
            try:
                return max(0.0, int(value) / 1000.0)
            except ValueError:
                break
    return ORIGINATE_DEFAULT_TIMEOUT


@dataclass
class AmiResult:
    """The reply to one action. For EventList actions `events` holds the rows, without the
    closing `…Complete` event; `ok` is False for `Response: Error` (see trace 24). With
    `await_event`, `events` holds that event and `ok` / `message` are its outcome (an
    OriginateResponse Failure: ok False, message "Originate failed: <why> (Reason n)");
    `response` stays the PBX's first answer ("Originate successfully queued")."""

    response: Frame
    events: list[Frame] = field(default_factory=list)
    ok: bool = True
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form, for Celery results."""
        return {"response": self.response, "events": self.events, "ok": self.ok, "message": self.message}

    def raise_for_error(self) -> AmiResult:
        """Raise ActionFailed (with the PBX's own message) unless the PBX said Success."""
        if not self.ok:
            raise ActionFailed(self.message or "the PBX refused the action", response=self.response)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AmiResult:
        return cls(data["response"], list(data.get("events", [])), bool(data["ok"]), str(data["message"]))


def _text(frame: Frame, key: str) -> str:
    value = frame.get(key, "")
    return value[-1] if isinstance(value, list) else value


class _Pending:
    """One action waiting for its response (and, for lists, its rows; or an awaited event)."""

    __slots__ = ("action", "done", "response", "events", "listing", "error", "await_event", "outcome")

    def __init__(self, action: str, await_event: str | None = None) -> None:
        self.action = action
        self.done = threading.Event()
        self.response: Frame | None = None
        self.events: list[Frame] = []
        self.listing = False
        self.error: AmiError | None = None
        self.await_event = await_event
        self.outcome: Frame | None = None  # the awaited event, once it came

    def complete(self) -> bool:
        """Whether the response (and the awaited event, if any and the PBX accepted) are in.

        Only a Success response waits for the event: an Error means it will never come.
        """
        if self.response is None:
            return False
        if self.listing or self.await_event is None or self.outcome is not None:
            return not self.listing
        return _text(self.response, "Response") != "Success"


def _outcome(event: Frame, accepted: str) -> tuple[bool, str]:
    """ok and message of an awaited event: `Response: Success` or a failure with its Reason."""
    if _text(event, "Response") == "Success":
        return True, accepted
    name = _text(event, "Event")
    reason = _text(event, "Reason")
    if name == "OriginateResponse":
        why = ORIGINATE_REASONS.get(reason, "failed")
        return False, f"Originate failed: {why} (Reason {reason or '?'})"
    return False, f"{name}: {_text(event, 'Response') or 'Failure'} (Reason {reason or '?'})"


class _LinkClient(AMIClient):  # type: ignore[misc]
    """One TCP session. asterisk-ami's AMIClient with defects (a)–(d) fixed (module docstring).

    Threads: `listen` (reads, dispatches frames in order), `_write_loop` (the only writer),
    and any number of callers of `request`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str,
        connect_timeout: float,
        send_queue_size: int,
        max_frame_bytes: int,
        wanted_events: Iterable[str] | None,
        on_event: Callable[[Frame], None],
    ) -> None:
        # The library's `timeout` is kept for connect only (defect a).
        super().__init__(address=host, port=port, timeout=connect_timeout)
        self.name = name
        self._lock = threading.Lock()  # defect (b): guards _futures across threads
        self._futures: dict[str, _Pending] = {}  # type: ignore[assignment]
        self._ids = itertools.count(1)
        self._prefix = f"{name}-{random.getrandbits(32):08x}-"
        self._write_lock = threading.Lock()
        self._outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=send_queue_size)
        self._writer: threading.Thread | None = None
        wanted = (
            None
            if wanted_events is None
            else frozenset(wanted_events) | LINK_EVENTS | LIST_EVENTS | AWAITABLE_EVENTS
        )
        self._parser = FrameParser(wanted_events=wanted, max_frame_bytes=max_frame_bytes)
        self._on_event = on_event
        self.finished = threading.Event()
        # Set by FullyBooted, and by close() so that a waiter for the boot wakes up too.
        self.boot_or_close = threading.Event()
        self.booted = False
        self.ready = False
        self.closed_reason = ""

    # --- socket ----------------------------------------------------------------------------
    def connect(self) -> None:
        sock = socket.create_connection((self._address, self._port), timeout=self._timeout)
        # Defect (a): no recv timeout. An idle AMI link is normal; Ping finds dead ones.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = sock
        self._thread = threading.Thread(target=self.listen, name=f"ami-read-{self.name}", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name=f"ami-write-{self.name}", daemon=True)
        self._thread.start()
        self._writer.start()

    def send(self, pack: bytes) -> None:
        # Defect (c): sendall, never a partial frame; one writer at a time.
        with self._write_lock:
            self._socket.sendall(pack)

    def send_action(self, action: Any, callback: Any = None) -> Any:
        raise TypeError("use request(): the library's futures are unsynchronised and ignore list rows")

    def _write_loop(self) -> None:
        while True:
            data = self._outbox.get()
            if data is None or self.finished.is_set():
                return
            try:
                self.send(data)
            except OSError as exc:
                self.close(f"write failed: {exc}")
                return

    def close(self, reason: str) -> None:
        """End the session from any thread; wakes the reader (shutdown) and every waiter."""
        with self._lock:
            if not self.closed_reason:
                self.closed_reason = reason
        self.finished.set()
        self.boot_or_close.set()
        sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in the reader thread
            except OSError:
                pass
        try:
            self._outbox.put_nowait(None)
        except queue.Full:
            pass  # the writer is blocked in sendall; the shutdown above makes it fail and exit

    def join(self, timeout: float) -> None:
        for thread in (self._thread, self._writer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
        if self._socket is not None:
            self._socket.close()

    def disconnect(self) -> None:
        self.close("disconnect")
        self.join(self._timeout)

    # --- reading ---------------------------------------------------------------------------
    def listen(self) -> None:
        reason = "PBX closed the connection"
        try:
            while not self.finished.is_set():
                data = self._socket.recv(65536)
                if not data:
                    break
                for frame in self._parser.feed(data):
                    self.fire_recv_pack(frame)
        except OSError as exc:
            reason = f"read failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug in dispatch must end the session, not hang it
            log.exception("AMI link %s: reader failed", self.name)
            reason = f"reader failed: {exc}"
        finally:
            self.close(reason)
            self._fail_all()

    def fire_recv_pack(self, frame: Frame) -> None:  # type: ignore[override]
        # Event first: some events carry a `Response` header too (OriginateResponse).
        if "Event" in frame:
            self._on_frame_event(frame)
        elif "Response" in frame:
            self._on_response(frame)
        # Anything else (garbage that happened to hold a colon) is ignored.

    def _on_response(self, frame: Frame) -> None:
        action_id = frame.get("ActionID")
        if not isinstance(action_id, str):
            return
        listing = _text(frame, "Response") == "Success" and _text(frame, "EventList").lower() == "start"
        with self._lock:
            pending = self._futures.get(action_id)
            if pending is None:
                return
            pending.response = frame
            pending.listing = listing
            complete = pending.complete()
            if complete:
                del self._futures[action_id]
        if complete:
            pending.done.set()

    def _on_frame_event(self, frame: Frame) -> None:
        action_id = frame.get("ActionID")
        name = _text(frame, "Event")
        awaited: _Pending | None = None
        if isinstance(action_id, str):
            # Defect (d): rows of a list in progress belong to the caller, not the live stream.
            # An event that merely carries an ActionID (UserEvent, trace 24) is live.
            with self._lock:
                pending = self._futures.get(action_id)
                if pending is not None and pending.listing:
                    done = _text(frame, "EventList").lower() == "complete"
                    if done or name.endswith("Complete"):  # older modules omit EventList
                        del self._futures[action_id]
                        pending.done.set()
                    else:
                        pending.events.append(frame)
                    return
                if pending is not None and pending.await_event == name and pending.outcome is None:
                    # (e): the outcome of e.g. an async Originate; it may precede the response.
                    pending.outcome = frame
                    pending.events.append(frame)
                    if pending.complete():
                        del self._futures[action_id]
                        awaited = pending
        try:
            self._dispatch(name, frame)
        finally:
            # After the live stream has it: whoever waited finds the engine already fed.
            if awaited is not None:
                awaited.done.set()

    def _dispatch(self, name: str, frame: Frame) -> None:
        if name == "FullyBooted":
            self.booted = True
            self.boot_or_close.set()
        try:
            self._on_event(frame)
        except Exception:  # noqa: BLE001 - a consumer bug must not take the link down
            log.exception("AMI link %s: on_frame failed for %s", self.name, name)
        if name == "Shutdown":
            # Trace 26a: the PBX says goodbye before closing; treat it as the disconnect.
            self.close("PBX shut down")

    def _fail_all(self) -> None:
        with self._lock:
            waiting = list(self._futures.values())
            self._futures.clear()
        for pending in waiting:
            pending.error = PbxNotConnected(f"{self.name}: link lost before {pending.action} was answered")
            pending.done.set()

    # --- actions ---------------------------------------------------------------------------
    def next_action_id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    def request(
        self,
        action: str,
        headers: Iterable[tuple[str, str]],
        timeout: float,
        *,
        await_event: str | None = None,
        before_send: Callable[[str], None] | None = None,
    ) -> AmiResult:
        """Send one action and wait for its response (and list rows, or `await_event`).

        `before_send(action_id)` runs on the caller's thread once the ActionID is known and
        before a byte is written, so nothing the PBX answers can overtake it.
        """
        action_id = self.next_action_id()
        data = encode_action(
            action, [(k, v) for k, v in headers if k.lower() != "actionid"] + [("ActionID", action_id)]
        )
        if await_event is not None:
            wanted = self._parser.wanted
            if wanted is not None and await_event.encode() not in wanted:
                self._parser.wanted = wanted | {await_event.encode()}  # one atomic rebind
        pending = _Pending(action, await_event)
        with self._lock:
            if self.finished.is_set():
                raise PbxNotConnected(f"{self.name}: not connected")
            self._futures[action_id] = pending
        try:
            if before_send is not None:
                before_send(action_id)
            self._outbox.put_nowait(data)
        except queue.Full:
            self._forget(action_id)
            raise PbxBusy(
                f"{self.name}: AMI send queue full ({self._outbox.maxsize} actions waiting); the PBX is not reading",
                action=action,
            ) from None
        except BaseException:
            self._forget(action_id)
            raise
        if not pending.done.wait(timeout) and self._forget(action_id):
            if pending.response is not None and await_event is not None:
                raise PbxTimeout(
                    f"{self.name}: {action} accepted but no {await_event} within {timeout:g} s",
                    action=action,
                )
            raise PbxTimeout(f"{self.name}: no reply to {action} within {timeout:g} s", action=action)
        pending.done.wait()  # completed just as the wait timed out: set (or about to be)
        if pending.error is not None:
            raise pending.error
        response = pending.response or {}
        ok = _text(response, "Response") in ("Success", "Follows", "Goodbye")
        message = _text(response, "Message")
        if ok and pending.outcome is not None:
            ok, message = _outcome(pending.outcome, message)
        return AmiResult(response, pending.events, ok, message)

    def _forget(self, action_id: str) -> bool:
        """Drop a pending action; False if it had completed (or failed) meanwhile."""
        with self._lock:
            return self._futures.pop(action_id, None) is not None


class AmiLink:
    """A self-healing AMI link. See the module docstring and docs/architecture.md ("Link").

    Callbacks run on link threads: `on_frame` on the reader (every live event, in order),
    `on_state` and `on_ready` on the supervisor. `on_ready(link)` may call `send`; if it
    raises, the session is dropped and retried.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        name: str = "pbx",
        on_frame: Callable[[Frame], None] | None = None,
        on_state: StateCallback | None = None,
        on_ready: Callable[[AmiLink], None] | None = None,
        wanted_events: Iterable[str] | None = None,
        connect_timeout: float = 5.0,
        login_timeout: float = 10.0,
        boot_timeout: float = 60.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        auth_backoff: float = 60.0,
        send_queue_size: int = 256,
        max_frame_bytes: int = 256 * 1024,
    ) -> None:
        self.host, self.port, self.name = host, int(port), name
        self._username, self._secret = username, secret
        self._on_frame = on_frame or (lambda frame: None)
        self._on_state = on_state
        self._on_ready = on_ready
        self._wanted = None if wanted_events is None else frozenset(wanted_events)
        self.connect_timeout, self.login_timeout, self.boot_timeout = (
            connect_timeout,
            login_timeout,
            boot_timeout,
        )
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.backoff_initial, self.backoff_max, self.auth_backoff = backoff_initial, backoff_max, auth_backoff
        self.send_queue_size, self.max_frame_bytes = send_queue_size, max_frame_bytes
        self._session: _LinkClient | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_changed = threading.Condition()
        self.state = "disconnected"
        self.detail = ""
        self.logins = 0  # successful logins over the link's life (reconnects show here)

    # --- public ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"ami-link-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the link and wait for its threads; no callback runs after this returns."""
        self._stopping.set()
        session = self._session
        if session is not None:
            session.close("stopped")
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def send(
        self,
        action: str,
        headers: Iterable[tuple[str, str]] = (),
        timeout: float = 5.0,
        *,
        await_event: str | None = None,
        before_send: Callable[[str], None] | None = None,
    ) -> AmiResult:
        """Send an action; raises PbxNotConnected (incl. PbxBusy) or PbxTimeout.

        `await_event` (e.g. "OriginateResponse" for an async Originate, see `awaited_event`):
        also wait, within the same `timeout`, for the event of that name with this action's
        ActionID; it ends up in `events` and decides `ok` / `message`. The link dropping
        meanwhile raises PbxNotConnected; `timeout` passing raises PbxTimeout (the PBX had
        accepted the action: it may still happen). `before_send(action_id)`: see `request`.
        """
        session = self._session
        if session is None or not session.ready or session.finished.is_set():
            raise PbxNotConnected(
                f"{self.name}: not connected ({self.state}: {self.detail})", state=self.state
            )
        return session.request(action, headers, timeout, await_event=await_event, before_send=before_send)

    def wait_for_state(self, status: str, timeout: float) -> bool:
        """Block until the link reports `status` (for tests and start-up), or time out."""
        with self._state_changed:
            return self._state_changed.wait_for(lambda: self.state == status, timeout)

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    # --- supervisor ------------------------------------------------------------------------
    def _set_state(self, status: str, detail: str = "") -> None:
        log.info("AMI link %s: %s %s", self.name, status, detail)
        # Callback first: whoever waits for a state also finds it recorded (linkstate).
        if self._on_state is not None:
            try:
                self._on_state(status, detail)
            except Exception:  # noqa: BLE001
                log.exception("AMI link %s: on_state failed", self.name)
        with self._state_changed:
            self.state, self.detail = status, detail
            self._state_changed.notify_all()

    def _backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter, so N workers do not reconnect in lockstep."""
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** min(failures, 20)))
        return random.uniform(ceiling / 2, ceiling)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._set_state("connecting", f"{self.host}:{self.port}")
            session: _LinkClient | None = None
            delay: float
            try:
                session = self._open()
                self._login(session)
                self._await_boot(session)
                session.ready = True
                if self._on_ready is not None:
                    self._on_ready(self)
                if session.finished.is_set():
                    raise PbxNotConnected(session.closed_reason)
                self._set_state("connected", f"{self.host}:{self.port}")
                failures = 0
                self._keepalive(session)
                if self._stopping.is_set():
                    break
                self._set_state("disconnected", session.closed_reason)
                delay = self._backoff(0)
            except AuthenticationFailed:
                self._set_state("auth_failed", "authentication failed")
                delay = self.auth_backoff
            except (OSError, AmiError) as exc:
                if self._stopping.is_set():
                    break
                failures += 1
                reason = (
                    (session.closed_reason if session is not None else "") or str(exc) or type(exc).__name__
                )
                self._set_state("disconnected", reason)
                delay = self._backoff(failures)
            except Exception as exc:  # noqa: BLE001 - e.g. on_ready's bug: retry, never die
                log.exception("AMI link %s: session failed", self.name)
                failures += 1
                self._set_state("disconnected", f"error: {exc}")
                delay = self._backoff(failures)
            finally:
                if session is not None:
                    session.close("session ended")
                    session.join(self.connect_timeout)
                    self._session = None
            self._stopping.wait(delay)
        self._set_state("disconnected", "stopped")

    def _open(self) -> _LinkClient:
        session = _LinkClient(
            self.host,
            self.port,
            name=self.name,
            connect_timeout=self.connect_timeout,
            send_queue_size=self.send_queue_size,
            max_frame_bytes=self.max_frame_bytes,
            wanted_events=self._wanted,
            on_event=self._on_frame,
        )
        self._session = session
        if self._stopping.is_set():
            raise PbxNotConnected("stopped")
        session.connect()
        return session

    def _login(self, session: _LinkClient) -> None:
        result = session.request(
            "Login",
            [("Username", self._username), ("Secret", self._secret), ("Events", "on")],
            self.login_timeout,
        )
        if not result.ok:
            if "authentication" in result.message.lower():
                raise AuthenticationFailed(result.message)
            raise PbxNotConnected(f"login refused: {result.message}")
        self.logins += 1

    def _await_boot(self, session: _LinkClient) -> None:
        """Asterisk sends FullyBooted right after Login once it is up; while it boots, later."""
        session.boot_or_close.wait(self.boot_timeout)
        if session.finished.is_set():
            raise PbxNotConnected(session.closed_reason)
        if not session.booted:
            raise PbxTimeout(f"no FullyBooted within {self.boot_timeout:g} s")

    def _keepalive(self, session: _LinkClient) -> None:
        """Ping until the session ends. No reply in time = half-open TCP: drop and reconnect."""
        while not session.finished.wait(self.ping_interval):
            try:
                session.request("Ping", (), self.ping_timeout)
            except PbxTimeout:
                session.close(f"no Ping reply within {self.ping_timeout:g} s")
            except PbxBusy:
                session.close("send queue full at Ping: the PBX is not reading")
            except PbxNotConnected:
                pass  # the session ended meanwhile; the loop condition sees it
