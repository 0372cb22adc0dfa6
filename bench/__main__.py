"""Run every benchmark and write docs/benchmarks.md.

Each module in BENCHES exposes `run() -> str`, a markdown section with its figures and goals.
`python -m bench ingest` runs one.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHES = ["ingest", "operations"]
OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; Python {platform.python_version()}"


def main(names: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sections = []
    for name in names or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        section = module.run()
        print(section, flush=True)
        sections.append(section)
    if not names:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        OUT.write_text(
            "# Benchmarks\n\n"
            f"Written by `make bench` on {stamp}.\n\nMachine: {machine()}.\n\n" + "\n\n".join(sections) + "\n"
        )
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
