"""`manage.py ami_replay FILE.ami [FILE2.ami ...]`: replay captures through framing + engine.

Files are replayed in order on ONE engine, as one link's reconnects would be (26a then 26b).
At each SwitchboardMark it prints the label, every box's colour, the occupied parking slots
and whether all of it matches `Expect`; exit status 1 on any mismatch. `FILE.actions`
beside a capture is read when present (snapshot ActionIDs, ChanSpy modes, Redirects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.engine.replay import measure, replay_files


class Command(BaseCommand):
    help = "Replay AMI captures (.ami) through framing and the engine; check every SwitchboardMark."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE.ami")
        parser.add_argument("--seed", type=int, default=0, help="seed of the random chunk sizes")
        parser.add_argument("--max-chunk", type=int, default=4096, help="largest chunk fed to the parser")
        parser.add_argument(
            "--bench",
            type=int,
            default=0,
            metavar="N",
            help="instead: time framing + engine over the files, N times",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["files"]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise CommandError(f"no such file: {', '.join(missing)}")
        if options["bench"]:
            m = measure(paths, repeat=options["bench"])
            self.stdout.write(
                f"{m['frames']:.0f} frames ({m['fed']:.0f} decoded and fed to the engine, {m['skipped']:.0f} skipped "
                f"by framing) in {m['seconds']:.2f}s: {m['frames_per_second']:,.0f} frames/s, {m['deltas']:.0f} deltas"
            )
            return
        engine, results = replay_files(paths, seed=options["seed"], max_chunk=options["max_chunk"])
        failed = 0
        for result in results:
            self.stdout.write(f"== {result.path} ({result.frames} frames)")
            if result.login_failed:
                self.stdout.write(
                    f"   login failed: {result.login_failed} (the PBX refused the link; nothing to check)"
                )
            for mark in result.marks:
                verdict = self.style.SUCCESS("ok") if mark.ok else self.style.ERROR("MISMATCH")
                colours = " ".join(f"{box}={colour}" for box, colour in mark.colours.items())
                parked = ",".join(mark.parked) or "-"
                self.stdout.write(f"   [{verdict}] {mark.label}: {colours} parked={parked}")
                for problem in mark.problems:
                    self.stdout.write(f"        {problem}")
                failed += not mark.ok
            if not result.marks and not result.login_failed:
                self.stdout.write("   no marks")
        if engine.bad_frames:
            self.stdout.write(f"{engine.bad_frames} malformed frame(s) skipped")
        total = sum(len(r.marks) for r in results)
        self.stdout.write(f"{total - failed}/{total} marks match")
        if failed:
            raise SystemExit(1)
