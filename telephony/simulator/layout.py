"""The PBX the simulator pretends to be: extensions, trunk, DIDs, queues, parking, IVR.

`PbxLayout.demo()` mirrors `shared/ami-traces/pbx-config` (the Asterisk 22 box the real captures
came from), so a trace-driven test and the simulator agree on numbers, names and contexts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class QueueLayout:
    name: str
    number: str
    members: list[str]  # static members, by extension (interface PJSIP/<ext>)
    strategy: str = "ringall"
    timeout: int = 15  # seconds a ring attempt lasts before the retry pause
    retry: int = 2
    max_wait: int = 300  # Queue(...,300): the caller leaves after this many seconds


@dataclass
class PbxLayout:
    extensions: list[str]
    names: dict[str, str] = field(default_factory=dict)
    unregistered: set[str] = field(default_factory=set)
    supervisors: set[str] = field(default_factory=set)
    trunk: str = "carrier"
    did_to_ext: dict[str, str] = field(default_factory=dict)
    did_prefix_to_queue: dict[str, str] = field(default_factory=dict)  # "555" → "8000"
    queues: list[QueueLayout] = field(default_factory=list)
    parking_lot: str = "default"
    park_ext: str = "700"
    park_slots: tuple[int, int] = (701, 720)
    parking_time: int = 120
    ivr_ext: str = "7000"
    ivr_timeout: float = 4.0
    dial_timeout: int = 20  # Dial(PJSIP/${EXTEN},20,tTkK)
    outbound_prefix: str = "9"
    voicemail_prefix: str = "*"
    # A phone on a call answers another with 486 Busy Here (one line, as a typical PJSIP
    # endpoint); True: it rings anyway (call waiting).
    call_waiting: bool = False
    username: str = "panel"
    secret: str = "panelsecret"

    def __post_init__(self) -> None:
        self.extensions = [str(e) for e in self.extensions]
        for ext in self.extensions:
            self.names.setdefault(ext, f"User {ext}")

    @classmethod
    def demo(
        cls,
        extensions: Iterable[int | str] = range(1001, 1007),
        *,
        unregistered: Iterable[int | str] = ("1006",),
        queue_members: Iterable[int | str] = ("1003", "1004"),
        username: str = "panel",
        secret: str = "panelsecret",
        parking_time: int = 120,
        call_waiting: bool = False,
    ) -> PbxLayout:
        """The layout of the captured PBX; `extensions` widens it (the demo uses 1001-1025)."""
        exts = [str(e) for e in extensions]
        first = exts[0] if exts else "1001"
        return cls(
            extensions=exts,
            unregistered={str(e) for e in unregistered} & set(exts),
            supervisors={"1005"} & set(exts),
            did_to_ext={"5551000": first},
            did_prefix_to_queue={"555": "8000"},
            queues=[QueueLayout("support", "8000", [str(m) for m in queue_members if str(m) in exts])],
            username=username,
            secret=secret,
            parking_time=parking_time,
            call_waiting=call_waiting,
        )

    def queue_by_name(self, name: str) -> QueueLayout | None:
        return next((q for q in self.queues if q.name == name), None)

    def queue_by_number(self, number: str) -> QueueLayout | None:
        return next((q for q in self.queues if q.number == number), None)

    def is_slot(self, exten: str) -> bool:
        return exten.isdigit() and self.park_slots[0] <= int(exten) <= self.park_slots[1]
