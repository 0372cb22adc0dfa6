"""Run the AMI PBX simulator until SIGINT/SIGTERM (demo and training mode, `make run`).

    python manage.py pbx_simulator --port 5038 --rate 20 --extensions 1001-1025 --seed 7 \
        --queue-members 1016-1023 --unregistered 1025

On shutdown every call is hung up and `Event: Shutdown` is sent before the sockets close,
as Asterisk does on a clean restart (trace 26a), so connected panels see a tidy end.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.simulator import PbxLayout, Simulator


def parse_extensions(text: str) -> list[str]:
    """`1001-1025` or `1001,1002,1010-1012` → the listed extensions (digits only)."""
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise CommandError(f"bad extension range: {part!r}")
        out += [str(n) for n in range(int(first), int(last or first) + 1)]
    return out


class Command(BaseCommand):
    help = "Run the AMI-speaking PBX simulator (Asterisk 22 behaviour) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5038)
        parser.add_argument("--rate", type=float, default=0.0, help="calls per minute (0: no traffic)")
        parser.add_argument("--extensions", default="1001-1006")
        parser.add_argument("--queue-members", default="1003,1004", help="static members of queue support")
        parser.add_argument("--unregistered", default="1006", help="phones that never register ('' for none)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--answer-delay", type=float, default=3.0, help="seconds phones ring")
        parser.add_argument("--talk", type=float, default=20.0, help="mean talk time in seconds")
        parser.add_argument("--username", default="panel")
        parser.add_argument("--secret", default="panelsecret")

    def handle(self, *args: Any, **opts: Any) -> None:
        layout = PbxLayout.demo(
            extensions=parse_extensions(opts["extensions"]),
            queue_members=parse_extensions(opts["queue_members"]) if opts["queue_members"] else (),
            unregistered=parse_extensions(opts["unregistered"]) if opts["unregistered"] else (),
            username=opts["username"],
            secret=opts["secret"],
        )
        sim = Simulator(layout=layout, answer_delay=opts["answer_delay"], seed=opts["seed"])
        port = sim.start(host=opts["host"], port=opts["port"])
        self.stdout.write(f"PBX simulator on {opts['host']}:{port} ({len(layout.extensions)} extensions)")
        if opts["rate"] > 0:
            sim.run_traffic(calls_per_minute=opts["rate"], talk_seconds=opts["talk"])
            self.stdout.write(f"traffic: {opts['rate']} calls/min")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        self.stdout.write("shutting down: hanging up calls, sending Shutdown")
        sim.stop(shutdown=True)
