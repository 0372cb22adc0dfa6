"""Ingest: AMI events per second through the link's framing and the engine, on one core.

The stream is recorded from the simulator over its real TCP socket: a logged-in client while
the traffic generator makes calls of every kind (internal, inbound to DID and queue, outbound,
transfers, parks, holds, phones unregistering) with short delays, until it has enough events.
Measured in the same run over the same bytes:
- parse limit: split the bytes into frames and turn each into a dict of headers, nothing else;
- ingest: `FrameParser(wanted_events=Engine.WANTED_EVENTS)` fed 64 KiB reads, every frame into
  `Engine.feed` (deltas made, as the link does);
Goal (issue 3): ingest >= 50,000 events/s and >= 25% of the parse limit.
"""

from __future__ import annotations

import collections
import socket
import time
from pathlib import Path

from telephony.ami.framing import FrameParser
from telephony.engine import Engine, TenantMap
from telephony.simulator import PbxLayout, Simulator

TARGET_EVENTS = 150_000
EXTENSIONS = range(1001, 1026)
CACHE = Path("/tmp/switchboard-bench-stream.ami")
READ_SIZE = 64 * 1024


def record_stream(target_events: int = TARGET_EVENTS) -> bytes:
    """A long mixed stream from the simulator, cached in /tmp between runs."""
    if CACHE.exists() and CACHE.read_bytes().count(b"\r\n\r\n") >= target_events:
        return CACHE.read_bytes()
    sim = Simulator(layout=PbxLayout.demo(extensions=EXTENSIONS), answer_delay=0.02, seed=7)
    sim.start()
    chunks: list[bytes] = []
    events = 0
    try:
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
            sock.sendall(b"Action: Login\r\nUsername: panel\r\nSecret: panelsecret\r\nActionID: 1\r\n\r\n")
            sim.run_traffic(calls_per_minute=6000, talk_seconds=0.2)
            deadline = time.monotonic() + 300
            while events < target_events and time.monotonic() < deadline:
                data = sock.recv(READ_SIZE)
                if not data:
                    break
                chunks.append(data)
                events += data.count(b"\r\n\r\n")
    finally:
        sim.stop_traffic()
        sim.stop()
    stream = b"".join(chunks)
    CACHE.write_bytes(stream)
    return stream


def parse_limit(stream: bytes) -> tuple[int, float]:
    """The floor of any Python AMI client: split frames, make a dict of each, nothing else."""
    started = time.perf_counter()
    count = 0
    for raw in stream.split(b"\r\n\r\n"):
        frame = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(": ")
            frame[key] = value
        count += 1
    return count, time.perf_counter() - started


def ingest(stream: bytes) -> tuple[int, int, float]:
    """Framing + engine, fed as the link reads the socket. Returns (frames in, deltas, seconds)."""
    tenants = TenantMap(endpoints={str(ext): "bench" for ext in EXTENSIONS}, default_tenant="bench")
    engine = Engine(tenants=tenants, clock=time.monotonic)
    parser = FrameParser(wanted_events=Engine.WANTED_EVENTS)
    deltas = 0
    started = time.perf_counter()
    for at in range(0, len(stream), READ_SIZE):
        for frame in parser.feed(stream[at : at + READ_SIZE]):
            deltas += len(engine.feed(frame))
    elapsed = time.perf_counter() - started
    return stream.count(b"\r\n\r\n"), deltas, elapsed


def best_of(runs: int, fn, *args):  # type: ignore[no-untyped-def]
    results = [fn(*args) for _ in range(runs)]
    return min(results, key=lambda r: r[-1])


def run() -> str:
    stream = record_stream()
    names = collections.Counter(
        line[7:] for line in stream.decode("utf-8", "replace").split("\r\n") if line.startswith("Event: ")
    )
    total = sum(names.values())
    varset_share = names.get("VarSet", 0) / max(1, total)
    frames, limit_s = best_of(3, parse_limit, stream)
    frames_in, deltas, ingest_s = best_of(3, ingest, stream)
    limit_rate = frames / limit_s
    ingest_rate = frames_in / ingest_s
    share = ingest_rate / limit_rate
    ok = ingest_rate >= 50_000 and share >= 0.25
    top = ", ".join(f"{n} {c / total:.0%}" for n, c in names.most_common(5))
    return "\n".join(
        [
            "## Ingest: AMI framing + engine (issue 3)",
            "",
            f"Stream recorded from the simulator: {len(stream) / 1e6:.1f} MB, {frames_in:,} frames "
            f"({len(names)} event kinds; most frequent: {top}; VarSet {varset_share:.0%}). "
            "Best of 3 runs, one core.",
            "",
            "| path | frames/s | seconds |",
            "|---|---:|---:|",
            f"| parse limit (split + dict, nothing else) | {limit_rate:,.0f} | {limit_s:.3f} |",
            f"| ingest (FrameParser + Engine.feed, {deltas:,} deltas) | {ingest_rate:,.0f} | {ingest_s:.3f} |",
            "",
            f"Ingest is {share:.0%} of the parse limit. Goal: >= 50,000 events/s and >= 25% of the "
            f"parse limit: {'met' if ok else 'NOT met'}.",
        ]
    )
