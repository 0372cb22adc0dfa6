"""Replay captured AMI streams (`shared/ami-traces/*.ami`) through framing + engine.

Shared by the tests and `manage.py ami_replay`. The bytes go through the real
`FrameParser` in random chunk sizes (as a socket would deliver them); the `.actions` file
beside a capture tells which ActionIDs were a snapshot (so `begin_resync` / `end_resync`
wrap them, as the runner does) and which actions the product sent (`note_action`: ChanSpy
modes, Redirects). At each `UserEvent: SwitchboardMark` the engine is checked against the
mark's `Expect` and extra keys (README.md of the traces).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from telephony.ami.framing import FrameParser

from .engine import Engine
from .model import Delta
from .resync import SNAPSHOT_ACTIONS
from .tenancy import TenantMap

REPLAY_TENANT = "replay"
MARK = "SwitchboardMark"
MARK_QUEUE = "support"  # the queue the marks' members= / paused= / waiting= speak of
# Status rows (trace 24) are snapshot rows too when a capture asks for them.
SNAPSHOT_ACTIONS_SEEN = frozenset(SNAPSHOT_ACTIONS) | {"Status"}
# List terminators the replay needs to see (the engine itself does not read them).
COMPLETE_EVENTS = frozenset(
    {
        "ContactListComplete",
        "DeviceStateListComplete",
        "ExtensionStateListComplete",
        "CoreShowChannelsComplete",
        "BridgeListComplete",
        "ParkedCallsComplete",
        "QueueStatusComplete",
        "StatusComplete",
    }
)
REPLAY_EVENTS = Engine.WANTED_EVENTS | COMPLETE_EVENTS | {"UserEvent"}


class ReplayClock:
    """A deterministic clock for replays: captures carry no `Timestamp` header (only security
    events have `EventTV`), so time advances by `step` per frame and jumps to any EventTV."""

    def __init__(self, start: float = 0.0, step: float = 0.001) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        return self.now

    def observe(self, frame: dict[str, Any]) -> None:
        self.now += self.step
        stamp = frame.get("EventTV")
        if stamp.__class__ is str:
            try:
                seen = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()  # type: ignore[arg-type]
            except ValueError:
                return
            self.now = max(self.now, seen)


@dataclass
class MarkResult:
    file: str
    label: str
    expected: dict[str, str]
    extras: dict[str, str]
    colours: dict[str, str]
    parked: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class FileResult:
    path: str
    marks: list[MarkResult] = field(default_factory=list)
    login_failed: str | None = None
    frames: int = 0
    deltas: list[Delta] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(mark.ok for mark in self.marks)


def load_actions(ami_path: Path) -> list[dict[str, Any]]:
    path = ami_path.with_suffix(".actions")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def snapshot_groups(actions: Sequence[dict[str, Any]]) -> dict[str, tuple[frozenset[str], str]]:
    """First ActionID of each full snapshot -> (all its ActionIDs, the last one).

    A snapshot is a run of consecutive list actions that includes CoreShowChannels; a lone
    `QueueStatus Queue=support` or `BridgeList` + `Status` is a query, whose rows are upserts.
    """
    groups: dict[str, tuple[frozenset[str], str]] = {}
    run: list[dict[str, Any]] = []
    for action in [*actions, {}]:
        if action.get("Action") in SNAPSHOT_ACTIONS_SEEN:
            run.append(action)
            continue
        if any(a.get("Action") == "CoreShowChannels" for a in run):
            ids = [str(a["ActionID"]) for a in run]
            groups[ids[0]] = (frozenset(ids), ids[-1])
        run = []
    return groups


def boxes_in(data: bytes) -> list[str]:
    """The user boxes the marks of a capture speak of (keys of every `Expect`)."""
    boxes: dict[str, None] = {}
    for line in data.split(b"\r\n"):
        if line.startswith(b"Expect: "):
            colours, _extras = parse_expect(line[8:].decode())
            boxes.update(dict.fromkeys(colours))
    return list(boxes)


def tenant_map_for(paths: Iterable[Path]) -> TenantMap:
    boxes: dict[str, str] = {}
    for path in paths:
        for box in boxes_in(Path(path).read_bytes()):
            boxes[box] = REPLAY_TENANT
    return TenantMap(endpoints=boxes, default_tenant=REPLAY_TENANT)


def parse_expect(text: str) -> tuple[dict[str, str], dict[str, str]]:
    colours: dict[str, str] = {}
    extras: dict[str, str] = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if key.isdigit():
            colours[key] = value
        else:
            extras[key] = value
    return colours, extras


def _set(value: str) -> set[str]:
    return {v for v in value.split(",") if v}


def check_mark(engine: Engine, file: str, frame: dict[str, Any], tenant: Any = REPLAY_TENANT) -> MarkResult:
    expected, extras = parse_expect(str(frame.get("Expect") or ""))
    view = engine.tenant_view(tenant)
    colours = {box: engine.colour(box) for box in expected}
    result = MarkResult(
        file, str(frame.get("Label") or ""), expected, extras, colours, sorted(view["parking"])
    )
    problems = result.problems
    for box, want in expected.items():
        got = colours[box]
        shown = view["endpoints"].get(box, {}).get("colour")
        if got != want:
            problems.append(f"{box}: expected {want}, engine says {got}")
        elif shown != got:
            problems.append(f"{box}: live view says {shown}, colour() says {got}")
    if "parked" in extras and set(view["parking"]) != _set(extras["parked"]):
        problems.append(f"parked: expected {extras['parked']}, got {','.join(sorted(view['parking']))}")
    if "dnd" in extras:
        dnd = {box for box in expected if view["endpoints"].get(box, {}).get("dnd")}
        if dnd != _set(extras["dnd"]):
            problems.append(f"dnd: expected {extras['dnd']}, got {','.join(sorted(dnd))}")
    if "recording" in extras:
        recorded = set()
        for call in view["calls"].values():
            if call["recording"]:
                recorded.update(p["endpoint"] for p in call["parties"] if p["endpoint"])
        missing = _set(extras["recording"]) - recorded
        if missing:
            problems.append(
                f"recording: expected on {','.join(sorted(missing))}, recorded {sorted(recorded)}"
            )
    if "spy" in extras:
        spies = set()
        for call in view["calls"].values():
            for p in call["parties"]:
                if p["kind"] == "spy" and p.get("spying_on"):
                    spies.add(f"{p['endpoint']}>{p['spy_mode']}>{p['spying_on']}")
        if spies != _set(extras["spy"]):
            problems.append(f"spy: expected {extras['spy']}, got {','.join(sorted(spies))}")
    queue = view["queues"].get(MARK_QUEUE, {"members": {}, "waiting": []})
    if "members" in extras and set(queue["members"]) != _set(extras["members"]):
        problems.append(f"members: expected {extras['members']}, got {','.join(sorted(queue['members']))}")
    if "paused" in extras:
        paused = {m for m, v in queue["members"].items() if v["paused"]}
        if paused != _set(extras["paused"]):
            problems.append(f"paused: expected {extras['paused']}, got {','.join(sorted(paused))}")
    if "waiting" in extras and len(queue["waiting"]) != int(extras["waiting"]):
        problems.append(f"waiting: expected {extras['waiting']}, got {len(queue['waiting'])}")
    return result


class Replay:
    """Feeds capture files, in order, to ONE engine (as one link's reconnects would)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: ReplayClock | None = None,
        tenant: Any = REPLAY_TENANT,
        rng: random.Random | None = None,
        max_chunk: int = 4096,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.tenant = tenant
        self.rng = rng or random.Random(0)
        self.max_chunk = max_chunk

    def chunks(self, data: bytes) -> Iterable[bytes]:
        i = 0
        while i < len(data):
            size = self.rng.randint(1, self.max_chunk)
            yield data[i : i + size]
            i += size

    def run_file(self, path: Path | str) -> FileResult:
        path = Path(path)
        engine = self.engine
        actions = load_actions(path)
        by_id = {str(a.get("ActionID")): i for i, a in enumerate(actions)}
        groups = snapshot_groups(actions)
        login_id = next((str(a["ActionID"]) for a in actions if a.get("Action") == "Login"), None)
        noted = 0
        seen: set[str] = set()
        resync_end: str | None = None
        result = FileResult(str(path))
        parser = FrameParser(wanted_events=REPLAY_EVENTS)
        for chunk in self.chunks(path.read_bytes()):
            for frame in parser.feed(chunk):
                result.frames += 1
                if self.clock is not None:
                    self.clock.observe(frame)
                action_id = frame.get("ActionID")
                if action_id.__class__ is str and action_id not in seen:
                    seen.add(action_id)  # type: ignore[arg-type]
                    # Action k+1 was sent once action k was answered: tell the engine now.
                    upto = by_id.get(action_id, -1) + 2  # type: ignore[arg-type]
                    while noted < min(upto, len(actions)):
                        result.deltas.extend(engine.note_action(actions[noted]))
                        noted += 1
                    if action_id in groups and resync_end is None:
                        ids, resync_end = groups[action_id]  # type: ignore[index]
                        engine.begin_resync(ids)
                if frame.get("Response") == "Error" and action_id == login_id:
                    result.login_failed = str(frame.get("Message") or "login refused")
                    continue
                result.deltas.extend(engine.feed(frame))
                event = frame.get("Event")
                if resync_end is not None and action_id == resync_end and event in COMPLETE_EVENTS:
                    result.deltas.extend(engine.end_resync())
                    resync_end = None
                if event == "UserEvent" and frame.get("UserEvent") == MARK:
                    result.marks.append(check_mark(engine, path.name, frame, self.tenant))
        if resync_end is not None:  # the link died mid-snapshot: keep what arrived
            result.deltas.extend(engine.end_resync())
        return result


def replay_files(
    paths: Sequence[Path | str], *, seed: int = 0, max_chunk: int = 4096, tenants: TenantMap | None = None
) -> tuple[Engine, list[FileResult]]:
    """Replay `paths` in order on one new engine; returns it and one result per file."""
    clock = ReplayClock()
    engine = Engine(tenants or tenant_map_for(Path(p) for p in paths), clock=clock)
    replay = Replay(engine, clock=clock, rng=random.Random(seed), max_chunk=max_chunk)
    return engine, [replay.run_file(p) for p in paths]


def measure(paths: Sequence[Path | str], *, repeat: int = 10, chunk: int = 65536) -> dict[str, float]:
    """Events/s of framing + engine over `paths` concatenated, `repeat` times (one core).

    A fresh engine per repetition: replaying the same Uniqueids into one engine would hit its
    hung-up tombstones and measure less work than a real stream.
    """
    import time

    data = b"".join(Path(p).read_bytes() for p in paths)
    tenants = tenant_map_for(Path(p) for p in paths)
    fed = skipped = deltas = 0
    started = time.perf_counter()
    for _ in range(repeat):
        engine = Engine(tenants)
        parser = FrameParser(wanted_events=Engine.WANTED_EVENTS)
        for i in range(0, len(data), chunk):
            for frame in parser.feed(data[i : i + chunk]):
                fed += 1
                deltas += len(engine.feed(frame))
        skipped += parser.skipped
    seconds = time.perf_counter() - started
    return {
        "frames": fed + skipped,
        "fed": fed,
        "skipped": skipped,
        "deltas": deltas,
        "seconds": seconds,
        "frames_per_second": (fed + skipped) / seconds,
    }
