"""`Simulator`: the AMI-speaking PBX as one object — server, PBX model, clock, traffic.

Other code drives it like the outside world would (phones dial, answer, hold, unregister;
the carrier delivers calls) and inspects its state for assertions. Every method takes the PBX
lock, so calls from test threads interleave safely with AMI actions and scheduled events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from telephony.ami.framing import Frame
from telephony.simulator.actions import Actions
from telephony.simulator.clock import Scheduler
from telephony.simulator.events import STATE_DESC, Headers
from telephony.simulator.layout import PbxLayout
from telephony.simulator.pbx import Channel, Pbx, SimError
from telephony.simulator.server import AmiServer, Session


class Simulator:
    def __init__(
        self,
        layout: PbxLayout | None = None,
        *,
        answer_delay: float | None = 0.0,
        outside_answer_delay: float | None = None,
        seed: int | None = None,
        auth_fail_close: float = 1.0,
    ) -> None:
        """answer_delay: seconds a ringing phone waits before it answers (None: never by itself,
        answer with `answer()`); outside_answer_delay: the same for outside parties (defaults
        to answer_delay)."""
        self.layout = layout or PbxLayout.demo()
        self.clock = Scheduler()
        self.received_actions: list[dict[str, Any]] = []
        self.pbx = Pbx(
            self.layout,
            self.clock,
            emit=self._broadcast,
            answer_delay=answer_delay,
            outside_answer_delay=answer_delay if outside_answer_delay is None else outside_answer_delay,
            seed=seed,
        )
        self.server = AmiServer(
            dispatch=self._dispatch,
            lock=self.pbx.lock,
            on_action=self._record,
            username=self.layout.username,
            secret=self.layout.secret,
            auth_fail_close=auth_fail_close,
            uptime=lambda: int(time.time() - self.pbx.booted),
        )
        self.actions = Actions(self.pbx, self.server)
        self.seed = seed
        self._traffic: Any = None
        self.port = 0

    # ---------------------------------------------------------------- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.clock.start()
        self.port = self.server.start(host, port)
        return self.port

    def stop(self, *, shutdown: bool = False) -> None:
        """Stop serving. `shutdown=True` first hangs every call up and sends `Shutdown`
        (the clean restart of trace 26a) before the sockets close."""
        self.stop_traffic()
        frame: Headers | None = None
        if shutdown:
            with self.pbx.lock:
                self.pbx.shutdown()
        self.server.stop(shutdown_frame=frame)
        self.clock.stop()

    def __enter__(self) -> Simulator:
        if not self.port:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _broadcast(self, headers: Headers) -> None:
        self.server.broadcast(headers)

    def _dispatch(self, session: Session, frame: Frame) -> None:
        self.actions.dispatch(session, frame)

    def _record(self, frame: Frame) -> None:
        self.received_actions.append(dict(frame))

    def clear_received(self) -> None:
        with self.pbx.lock:
            self.received_actions.clear()

    # ---------------------------------------------------------------- the outside world

    def _find(self, party: str) -> Channel:
        """An extension's live channel (preferring a ringing or bridged one), a channel name,
        or an outside party by its number."""
        pbx = self.pbx
        if party in pbx.channels:
            return pbx.channels[party]
        if party in self.layout.extensions:
            chans = sorted(pbx.endpoint_channels(party), key=lambda c: c.created, reverse=True)
        else:
            chans = [
                c
                for c in pbx.channels.values()
                if c.endpoint == self.layout.trunk and party in self._numbers(c)
            ]
            if not chans and party == self.layout.trunk:
                chans = [c for c in pbx.channels.values() if c.endpoint == party]
        if not chans:
            raise SimError(f"no channel for {party}")
        return chans[0]

    @staticmethod
    def _numbers(ch: Channel) -> tuple[str, ...]:
        """The numbers an outside leg answers to: its caller id, connected line, dialled number."""
        dialled = ch.dial_parent.conn_num if ch.dial_parent is not None else ""
        return (ch.cid_num, ch.conn_num, ch.exten, ch.app_data, dialled)

    def call(self, from_ext: str, to: str) -> str:
        """A phone dials `to` (an extension, `*ext` voicemail, 8000 queue, 7000 IVR, 701 a parked
        call, or 9<number> / 9+<number> out through the trunk). A phone already on a call
        answers busy unless the layout has `call_waiting`. Returns the new channel's name."""
        with self.pbx.lock:
            return self.pbx.phone_dials(str(from_ext), str(to)).name

    def inbound(self, did: str, caller: str = "+15551234567", caller_name: str | None = None) -> str:
        """The carrier delivers a call to a DID (5551000 → reception, other 555xxxx → queue)."""
        with self.pbx.lock:
            return self.pbx.carrier_calls(str(did), caller, caller_name).name

    def answer(self, party: str) -> None:
        with self.pbx.lock:
            chans = [c for c in self.pbx.channels.values() if c.state == 5 and party in (c.endpoint, c.name)]
            if not chans:
                ch = self._find(party)
                chans = [ch]
            self.pbx.answer_channel(chans[0])

    def hangup(self, party: str, cause: int = 16) -> None:
        """The phone (or the outside party) hangs up; a ringing phone rejects with `cause`."""
        with self.pbx.lock:
            ch = self._find(party)
            if ch.state == 5 and cause == 16:
                cause = 17  # declining a ringing call is "User busy" in Asterisk
            self.pbx.hangup(ch, cause)

    def hold(self, ext: str) -> None:
        with self.pbx.lock:
            self.pbx.hold(self._find(ext), True)

    def unhold(self, ext: str) -> None:
        with self.pbx.lock:
            self.pbx.hold(self._find(ext), False)

    def unregister(self, ext: str) -> None:
        with self.pbx.lock:
            self.pbx.set_registered(str(ext), False)

    def register(self, ext: str) -> None:
        with self.pbx.lock:
            self.pbx.set_registered(str(ext), True)

    def transfer(self, ext: str, to: str) -> None:
        """Blind transfer from the phone itself (SIP REFER, trace 18)."""
        with self.pbx.lock:
            self.pbx.blind_transfer(self._find(ext), "internal", str(to), refer=True)

    def dtmf(self, party: str, digit: str) -> None:
        """A caller presses a key; in the IVR (7000) 1 → queue, 2 → 1001."""
        with self.pbx.lock:
            ch = self._find(party)
            self.pbx._dtmf(ch, digit)
            self.pbx._ivr_choice(ch, digit)

    def set_dnd(self, ext: str, on: bool = True) -> None:
        with self.pbx.lock:
            self.pbx.set_dnd(str(ext), on)

    def restart(self) -> None:
        """`core restart now`: hang everything up and send Shutdown; sessions then close."""
        with self.pbx.lock:
            self.pbx.shutdown()
            for session in list(self.server.sessions):
                session.close()

    # ---------------------------------------------------------------- inspection

    def channels(self) -> list[dict[str, Any]]:
        with self.pbx.lock:
            return [
                {
                    "name": c.name,
                    "uniqueid": c.uniqueid,
                    "linkedid": c.linkedid,
                    "state": STATE_DESC.get(c.state, str(c.state)),
                    "endpoint": c.endpoint,
                    "bridge": c.bridge.uniqueid if c.bridge else None,
                    "application": c.app,
                    "held": c.held,
                    "recording": c.mixmonitor,
                }
                for c in self.pbx.channels.values()
            ]

    def bridged_with(self, ext: str) -> set[str]:
        with self.pbx.lock:
            out: set[str] = set()
            for ch in self.pbx.endpoint_channels(str(ext)):
                if ch.bridge is not None:
                    out |= {c.endpoint or c.name for c in ch.bridge.channels if c is not ch}
            return out

    def parked(self) -> dict[str, str]:
        with self.pbx.lock:
            return {slot: ch.name for slot, ch in sorted(self.pbx.parking.items())}

    def queue_members(self, queue: str) -> dict[str, dict[str, Any]]:
        with self.pbx.lock:
            q = self.pbx.queues[queue]
            return {
                ext: {"paused": m.paused, "reason": m.reason, "membership": m.membership}
                for ext, m in q.members.items()
            }

    def queue_callers(self, queue: str) -> list[str]:
        with self.pbx.lock:
            return [c.name for c in self.pbx.queues[queue].callers]

    def dnd(self, ext: str) -> bool:
        with self.pbx.lock:
            return str(ext) in self.pbx.dnd

    def registered(self, ext: str) -> bool:
        with self.pbx.lock:
            return str(ext) in self.pbx.registered

    def spies(self) -> list[dict[str, str]]:
        with self.pbx.lock:
            return [
                {"spyer": c.name, "spyee": c.spying.name, "mode": c.spy_mode}
                for c in self.pbx.channels.values()
                if c.spying is not None
            ]

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 2.0, interval: float = 0.005) -> Any:
        """Poll `predicate` until truthy; raise TimeoutError with the last value otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s (last value {value!r})")
            time.sleep(interval)

    # ---------------------------------------------------------------- traffic

    def run_traffic(self, calls_per_minute: float = 30, **kwargs: Any) -> None:
        from telephony.simulator.traffic import TrafficGenerator

        self.stop_traffic()
        self._traffic = TrafficGenerator(self, calls_per_minute=calls_per_minute, seed=self.seed, **kwargs)
        self._traffic.start()

    def stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.stop()
            self._traffic = None
