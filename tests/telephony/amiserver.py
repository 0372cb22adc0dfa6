"""A tiny scripted fake AMI server on a real TCP socket, for the link tests.

It speaks just enough AMI (banner, Login, FullyBooted, Ping, scripted replies, list actions)
and can misbehave on demand: go silent, stop reading, close, push garbage, refuse the login,
accept TCP and never say a word. Bind port 0; `restart()` reopens the same port (a PBX
coming back after a restart).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from telephony.ami.framing import Frame, FrameParser

Reply = "bytes | Frame"
Handler = Callable[[Frame], list[Any]]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
FULLY_BOOTED = {"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "5", "Status": "Fully Booted"}


def encode_frame(frame: Frame) -> bytes:
    """A frame as AMI bytes; list values become repeated headers, in order."""
    lines = []
    for key, value in frame.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {item}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def list_reply(action: Frame, row_event: str, rows: list[Frame], complete: str) -> list[Any]:
    """An EventList reply as Asterisk sends it: Success + `EventList: start`, rows, Complete."""
    action_id = action.get("ActionID", "")
    out: list[Any] = [
        {"Response": "Success", "ActionID": action_id, "EventList": "start", "Message": "follows"}
    ]
    out += [{"Event": row_event, "ActionID": action_id, **row} for row in rows]
    out.append(
        {"Event": complete, "ActionID": action_id, "EventList": "Complete", "ListItems": str(len(rows))}
    )
    return out


class FakeAmi:
    def __init__(
        self,
        *,
        username: str = "panel",
        secret: str = "secret",
        banner: bool = True,
        booted: bool = True,
        rcvbuf: int | None = None,
    ) -> None:
        self.username, self.secret = username, secret
        self.banner, self.booted, self.rcvbuf = banner, booted, rcvbuf
        self.script: dict[str, Handler] = {}
        self.silent = False  # read actions but answer nothing (not even Ping): half-open PBX
        self.reading = threading.Event()  # cleared: stop reading the socket (a stuck PBX)
        self.reading.set()
        self.port = 0
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self.connections = 0
        self.logins = 0
        self.failed_logins = 0
        self.actions: list[Frame] = []
        self._running = False

    # --- control ---------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> FakeAmi:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.rcvbuf:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running = True
        self._spawn(self._accept_loop, listener)
        return self

    def stop(self) -> None:
        """Close the listener and every client connection (the PBX process is gone)."""
        self._running = False
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        self.close_clients()
        for thread in self._threads:
            thread.join(5)
        self._threads = []

    def restart(self) -> None:
        self.stop()
        self.start()

    def close_clients(self) -> None:
        with self._cond:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()

    def push(self, data: bytes | Frame) -> None:
        """Send bytes or a frame to every connected client (events, garbage)."""
        raw = data if isinstance(data, bytes) else encode_frame(data)
        with self._cond:
            clients = list(self._clients)
        for client in clients:
            try:
                client.sendall(raw)
            except OSError:
                pass

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def actions_named(self, name: str) -> list[Frame]:
        with self._cond:
            return [a for a in self.actions if a.get("Action") == name]

    # --- serving ---------------------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._running:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._cond:
                self._clients.append(client)
                self.connections += 1
                self._cond.notify_all()
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        parser = FrameParser(max_frame_bytes=64 * 1024 * 1024)
        try:
            if self.banner:
                client.sendall(BANNER)
            while True:
                self.reading.wait()
                data = client.recv(65536)
                if not data:
                    return
                for action in parser.feed(data):
                    self._answer(client, action)
        except OSError:
            return
        finally:
            with self._cond:
                if client in self._clients:
                    self._clients.remove(client)
                self._cond.notify_all()
            client.close()

    def _answer(self, client: socket.socket, action: Frame) -> None:
        with self._cond:
            self.actions.append(action)
            self._cond.notify_all()
        if self.silent or not self.banner:
            return
        name = action.get("Action")
        action_id = action.get("ActionID", "")
        replies: list[Any]
        if name == "Login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                replies = [
                    {"Response": "Success", "ActionID": action_id, "Message": "Authentication accepted"}
                ]
                if self.booted:
                    replies.append(FULLY_BOOTED)
                with self._cond:
                    self.logins += 1
                    self._cond.notify_all()
            else:
                with self._cond:
                    self.failed_logins += 1
                    self._cond.notify_all()
                # Trace 25: the refusal, then the PBX hangs up.
                client.sendall(
                    encode_frame(
                        {"Response": "Error", "ActionID": action_id, "Message": "Authentication failed"}
                    )
                )
                client.shutdown(socket.SHUT_RDWR)
                return
        elif isinstance(name, str) and name in self.script:
            replies = self.script[name](action)
        elif name == "Ping":
            replies = [{"Response": "Success", "ActionID": action_id, "Ping": "Pong", "Timestamp": "1.0"}]
        else:
            replies = [
                {
                    "Response": "Error",
                    "ActionID": action_id,
                    "Message": f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.",
                }
            ]
        client.sendall(b"".join(r if isinstance(r, bytes) else encode_frame(r) for r in replies))


class StandInEngine:
    """A stand-in for telephony.engine.Engine (same interface), recording what it is fed.

    Used by the runner and hosting tests (and, via a `python -c` wrapper, by the failover
    test's workers) until they can run against the real engine.
    """

    WANTED_EVENTS = None

    def __init__(self, tenants: Any = None) -> None:
        self.tenants = tenants
        self.log: list[tuple[str, str]] = []
        self.resyncing = False

    def feed(self, frame: Frame) -> list[Any]:
        name = str(frame.get("Event") or frame.get("Response"))
        self.log.append(("row" if self.resyncing and "ActionID" in frame else "feed", name))
        return [("delta", name)] if not self.resyncing else []

    def begin_resync(self) -> None:
        self.resyncing = True
        self.log.append(("begin", ""))

    def end_resync(self) -> list[Any]:
        self.resyncing = False
        self.log.append(("end", ""))
        return [("delta", "resync")]

    def tenant_view(self, tenant_id: Any) -> dict[str, Any]:
        return {"version": len(self.log)}
