"""A traffic generator: random (seedable) calls at a chosen rate, for the demo, tests and bench.

Arrivals are a Poisson process (exponential gaps, mean 60/rate s). Each arrival picks a
scenario — internal call, inbound to reception or to the queue, outbound, a phone-side hold,
a blind transfer, a park and retrieval, a phone that drops off the network for a while — and
plays it through the same Python API a test uses, so the AMI stream is what those actions emit.
Phones are picked idle when the scenario needs them to ring (a phone on a call answers busy
unless the layout has `call_waiting`); reception scenarios fall back to the queue while the
reception phone is on a call.
Every scenario ends by hanging up what it started: after `stop()` and the last scenario,
the PBX has no channels left.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.simulator.pbx import SimError

if TYPE_CHECKING:
    from telephony.simulator.simulator import Simulator

log = logging.getLogger(__name__)

SCENARIOS: dict[str, float] = {
    "internal": 3,
    "inbound_reception": 2,
    "inbound_queue": 3,
    "outbound": 2,
    "hold": 1,
    "transfer": 1,
    "park": 1,
    "unregister": 0.3,
}


class TrafficGenerator:
    def __init__(
        self,
        sim: Simulator,
        *,
        calls_per_minute: float = 30,
        seed: int | None = None,
        talk_seconds: float = 20.0,
        scenarios: dict[str, float] | None = None,
    ) -> None:
        self.sim = sim
        self.rate = max(0.001, calls_per_minute)
        self.rng = random.Random(seed)
        self.talk = talk_seconds
        self.weights = scenarios or SCENARIOS
        self.running = False
        self.started = 0
        self.active = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self.running = True
        self._next_arrival()

    def stop(self) -> None:
        """No new calls; the calls under way finish (and hang up) on their own schedule."""
        self.running = False

    # ---------------------------------------------------------------- plumbing

    def _after(self, seconds: float, fn: Callable[[], None]) -> None:
        def run() -> None:
            try:
                fn()
            except SimError:
                pass  # the party is gone already (hung up, transferred, parked elsewhere)

        self.sim.clock.call_later(seconds, run)

    def _dur(self, scale: float = 1.0) -> float:
        return self.rng.expovariate(1.0 / max(1e-6, self.talk * scale))

    def _next_arrival(self) -> None:
        if not self.running:
            return
        self.sim.clock.call_later(self.rng.expovariate(self.rate / 60.0), self._arrive)

    def _arrive(self) -> None:
        if not self.running:
            return
        names = list(self.weights)
        scenario = self.rng.choices(names, [self.weights[n] for n in names])[0]
        self.started += 1
        try:
            getattr(self, f"_{scenario}")()
        except SimError as exc:
            log.debug("traffic scenario %s skipped: %s", scenario, exc)
        self._next_arrival()

    def _idle(self, ext: str) -> bool:
        """Registered, not on a call, not on DND: a phone answers busy when it is on a call
        (no call waiting), so scenarios that want it to ring pick idle phones only."""
        pbx = self.sim.pbx
        with pbx.lock:
            return ext in pbx.registered and not pbx.endpoint_channels(ext) and ext not in pbx.dnd

    def _idle_ext(self, exclude: set[str] | None = None) -> str | None:
        free = [e for e in self.sim.layout.extensions if e not in (exclude or set()) and self._idle(e)]
        return self.rng.choice(free) if free else None

    def _reception_did(self) -> str | None:
        """The reception DID while its phone is idle (else the caller would only reach voicemail)."""
        did = next(iter(self.sim.layout.did_to_ext), None)
        if did is None or not self._idle(self.sim.layout.did_to_ext[did]):
            return None
        return did

    def _end(self, name: str, seconds: float) -> None:
        """Hang the channel up later, if it still exists (the caller side ends the call)."""

        def hang() -> None:
            with self.sim.pbx.lock:
                ch = self.sim.pbx.channels.get(name)
                if ch is not None and not ch.hung:
                    self.sim.pbx.hangup(ch, 16)

        self._after(seconds, hang)

    def _number(self) -> str:
        return f"+1555{self.rng.randrange(10**6, 10**7)}"

    # ---------------------------------------------------------------- scenarios

    def _internal(self) -> None:
        a = self._idle_ext()
        b = self._idle_ext({a} if a else set())
        if a is None or b is None:
            return
        self._end(self.sim.call(a, b), self._dur() + 1)

    def _inbound_reception(self) -> None:
        did = self._reception_did()
        if did is None:
            return self._inbound_queue()  # reception is busy: the caller picks the hotline
        self._end(self.sim.inbound(did, self._number()), self._dur() + 1)
        return None

    def _inbound_queue(self) -> None:
        prefixes = list(self.sim.layout.did_prefix_to_queue)
        if prefixes:
            did = prefixes[0] + f"{self.rng.randrange(2000, 9999)}"
            self._end(self.sim.inbound(did, self._number()), self._dur(1.5) + 1)

    def _outbound(self) -> None:
        a = self._idle_ext()
        if a is not None:
            number = f"{self.sim.layout.outbound_prefix}1555{self.rng.randrange(10**6, 10**7)}"
            self._end(self.sim.call(a, number), self._dur() + 1)

    def _hold(self) -> None:
        a = self._idle_ext()
        b = self._idle_ext({a} if a else set())
        if a is None or b is None:
            return
        name = self.sim.call(a, b)
        talk = self._dur() + 1
        self._after(talk * 0.3, lambda: self._on_channel(name, lambda ch: self.sim.pbx.hold(ch, True)))
        self._after(talk * 0.6, lambda: self._on_channel(name, lambda ch: self.sim.pbx.hold(ch, False)))
        self._end(name, talk)

    def _transfer(self) -> None:
        did = self._reception_did()
        if did is None:
            return self._inbound_queue()
        reception = self.sim.layout.did_to_ext[did]
        caller = self.sim.inbound(did, self._number())
        talk = self._dur() + 1

        def transfer() -> None:
            with self.sim.pbx.lock:
                ch = self.sim.pbx.channels.get(caller)
                if ch is None or ch.bridge is None:
                    return
                target = self._idle_ext({reception})  # idle now, when the transfer happens
                if target is None:
                    return
                agent = next((c for c in ch.bridge.channels if c is not ch), None)
                if agent is not None:
                    self.sim.pbx.blind_transfer(agent, "internal", target)

        self._after(talk * 0.4, transfer)
        self._end(caller, talk)

    def _park(self) -> None:
        did = self._reception_did()
        if did is None:
            return self._inbound_queue()
        caller = self.sim.inbound(did, self._number())
        talk = self._dur() + 1

        def park() -> None:
            with self.sim.pbx.lock:
                ch = self.sim.pbx.channels.get(caller)
                if ch is not None and ch.bridge is not None and ch.parked_slot is None:
                    self.sim.pbx.park(ch, None)

        def retrieve() -> None:
            with self.sim.pbx.lock:
                ch = self.sim.pbx.channels.get(caller)
                slot = ch.parked_slot if ch is not None else None
            who = self._idle_ext()
            if slot is not None and who is not None:
                self._end(self.sim.call(who, slot), talk * 0.5)

        self._after(talk * 0.3, park)
        self._after(talk * 0.6, retrieve)
        self._end(caller, talk * 1.5)

    def _unregister(self) -> None:
        ext = self._idle_ext()
        if ext is None:
            return
        self.sim.unregister(ext)
        self._after(self._dur(), lambda: self.sim.register(ext))

    def _on_channel(self, name: str, fn: Callable[..., None]) -> None:
        with self.sim.pbx.lock:
            ch = self.sim.pbx.channels.get(name)
            if ch is not None and not ch.hung:
                fn(ch)
