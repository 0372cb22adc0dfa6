"""The AMI TCP server: banner, Login, one thread pair per client, events fanned out to all.

Each client gets a reader thread (parses actions with telephony.ami.framing.FrameParser and
runs them under the PBX lock) and a writer thread fed by a queue, so a slow client never blocks
the PBX or the other clients. Responses and events are queued under the PBX lock, which makes
their relative order the same on every connection, as on one Asterisk.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from telephony.ami.framing import Frame, FrameParser
from telephony.simulator.events import Headers, encode, event

log = logging.getLogger(__name__)
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _tv() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class Session:
    def __init__(self, server: AmiServer, sock: socket.socket, addr: tuple[str, int]) -> None:
        self.server = server
        self.sock = sock
        self.addr = addr
        self.authed = False
        self.rejected = False  # a failed Login: Asterisk answers nothing more, then closes
        self.events = False
        self.closing = False
        self.session_id = f"0x{id(self):x}"
        self.started = _tv()
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name=f"ami-w-{addr[1]}", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name=f"ami-r-{addr[1]}", daemon=True)

    @property
    def remote(self) -> str:
        return f"IPV4/TCP/{self.addr[0]}/{self.addr[1]}"

    def start(self) -> None:
        self._writer.start()
        self._reader.start()

    def send(self, headers: Headers) -> None:
        if not self.closing:
            self._out.put(encode(headers))

    def send_raw(self, data: bytes) -> None:
        if not self.closing:
            self._out.put(data)

    def close(self, delay: float = 0.0) -> None:
        """Close after what is queued is written; `delay` mimics Asterisk's pause on bad logins."""
        if delay > 0:
            threading.Timer(delay, self.close).start()
            return
        self.closing = True
        self._out.put(None)

    def _write_loop(self) -> None:
        try:
            while True:
                data = self._out.get()
                if data is None:
                    break
                self.sock.sendall(data)
        except OSError:
            pass
        finally:
            self.closing = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.server.forget(self)

    def _read_loop(self) -> None:
        parser = FrameParser(max_frame_bytes=64 * 1024)
        try:
            while not self.closing:
                data = self.sock.recv(65536)
                if not data:
                    break
                for frame in parser.feed(data):
                    if self.closing:
                        break
                    try:
                        self.server.handle(self, frame)
                    except Exception:  # one bad action must not kill the connection
                        log.exception("simulator action failed: %r", frame)
                        self.send(_response(frame, "Error", "Internal error"))
        except OSError:
            pass
        finally:
            self.close()


def _response(frame: Frame, status: str, message: str | None = None, extra: Headers | None = None) -> Headers:
    headers: Headers = [("Response", status)]
    action_id = frame.get("ActionID")
    if isinstance(action_id, str):
        headers.append(("ActionID", action_id))
    if message is not None:
        headers.append(("Message", message))
    return headers + (extra or [])


class AmiServer:
    def __init__(
        self,
        *,
        dispatch: Callable[[Session, Frame], None],
        lock: threading.RLock,
        on_action: Callable[[Frame], None],
        username: str,
        secret: str,
        auth_fail_close: float = 1.0,
        uptime: Callable[[], int] = lambda: 0,
    ) -> None:
        self.dispatch = dispatch
        self.lock = lock
        self.on_action = on_action
        self.username = username
        self.secret = secret
        self.auth_fail_close = auth_fail_close
        self.uptime = uptime
        self.sessions: list[Session] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.local = "IPV4/TCP/127.0.0.1/5038"

    def start(self, host: str, port: int) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.local = f"IPV4/TCP/{host}/{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name="ami-accept", daemon=True)
        self._thread.start()
        return self.port

    def stop(self, *, shutdown_frame: Headers | None = None) -> None:
        if self._sock is not None:
            # close() alone does not wake a thread blocked in accept() on Linux; shutdown() does.
            for end in (lambda: self._sock.shutdown(socket.SHUT_RDWR), self._sock.close):
                try:
                    end()
                except OSError:
                    pass
        with self.lock:
            sessions = list(self.sessions)
            for session in sessions:
                if shutdown_frame is not None and session.authed and session.events:
                    session.send(shutdown_frame)
                session.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        deadline = time.monotonic() + 2
        for session in sessions:
            session._writer.join(timeout=max(0.0, deadline - time.monotonic()))

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, addr = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = Session(self, conn, addr)
            with self.lock:
                self.sessions.append(session)
                session.send_raw(BANNER)
            session.start()

    def forget(self, session: Session) -> None:
        with self.lock:
            if session in self.sessions:
                self.sessions.remove(session)

    def broadcast(self, headers: Headers) -> None:
        """Called under the PBX lock for every event: same order on every connection."""
        data = encode(headers)
        for session in self.sessions:
            if session.authed and session.events:
                session.send_raw(data)

    def handle(self, session: Session, frame: Frame) -> None:
        with self.lock:
            self.on_action(frame)
            if session.rejected:
                return
            action = frame.get("Action")
            if not isinstance(action, str) or not action:
                session.send(_response(frame, "Error", "Missing action in request"))
                return
            name = action.lower()
            if name == "login":
                self._login(session, frame)
                return
            if name == "logoff":
                session.send(_response(frame, "Goodbye", "Thanks for all the fish."))
                session.close()
                return
            if not session.authed:
                session.send(_response(frame, "Error", "Permission denied"))
                return
            self.dispatch(session, frame)

    def _login(self, session: Session, frame: Frame) -> None:
        if session.authed:
            session.send(_response(frame, "Success", "Already authenticated"))
            return
        if frame.get("Username") != self.username or frame.get("Secret") != self.secret:
            session.send(_response(frame, "Error", "Authentication failed"))
            # Asterisk waits about a second, then drops the connection (trace 25).
            session.rejected = True
            session.close(self.auth_fail_close)
            return
        session.authed = True
        session.events = str(frame.get("Events", "on")).lower() != "off"
        session.send(_response(frame, "Success", "Authentication accepted"))
        if session.events:
            session.send(
                event(
                    "FullyBooted",
                    "system,all",
                    [
                        ("Uptime", str(self.uptime())),
                        ("LastReload", str(self.uptime())),
                        ("Status", "Fully Booted"),
                    ],
                )
            )
        self.broadcast(
            event(
                "SuccessfulAuth",
                "security,all",
                [
                    ("EventTV", _tv()),
                    ("Severity", "Informational"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("AccountID", self.username),
                    ("SessionID", session.session_id),
                    ("LocalAddress", self.local),
                    ("RemoteAddress", session.remote),
                    ("UsingPassword", "0"),
                    ("SessionTV", session.started),
                ],
            )
        )


respond = _response
