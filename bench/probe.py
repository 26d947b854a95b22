"""Measure the local probe on this machine, and the parser on a large host.

Prints the wall time of one real probe (which includes PROBE_SAMPLE_SECONDS of
sampling), the time to parse a synthetic probe output with PROCESSES
processes, and the size of the snapshot row stored per probe. The last line
is one JSON object with the figures.
Run: .venv/bin/python bench/probe.py [PROCESSES]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsguard.settings")

import django  # noqa: E402

django.setup()

from incidents.collectors.local import LocalCollector  # noqa: E402
from incidents.probe.parser import parse_probe  # noqa: E402
from incidents.services import ProbeTarget, snapshot_report  # noqa: E402

REPEATS = 20


def synthetic_output(real: str, processes: int) -> str:
    """Return the real probe output with `processes` fake processes added to
    both process samples."""
    lines = []
    for index, line in enumerate(real.splitlines()):
        lines.append(line)
        if line.startswith("@@opsguard procs"):
            ticks = 100 + index
            for pid in range(100_000, 100_000 + processes):
                lines.append(
                    f"{pid} (worker {pid % 97}) S 1 {pid} {pid} 0 -1 4194304 10 0 0 0 "
                    f"{ticks} 5 0 0 20 0 1 0 {pid} 12345678 900 18446744073709551615 "
                    "1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    processes = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    collector = LocalCollector(sample_seconds=1.0, timeout=30)
    target = ProbeTarget("localhost", "", [])

    started = time.perf_counter()
    real = collector.run_probe(target)
    probe_seconds = time.perf_counter() - started

    text = synthetic_output(real, processes)
    started = time.perf_counter()
    for _ in range(REPEATS):
        report = parse_probe(text, [])
    parse_ms = (time.perf_counter() - started) / REPEATS * 1000

    snapshot_bytes = len(json.dumps(snapshot_report(report)))
    print(f"real probe, wall time: {probe_seconds:.2f} s (1 s of it is sampling)")
    print(f"parse of {len(report.processes)} processes: {parse_ms:.1f} ms")
    print(f"stored snapshot report: {snapshot_bytes} bytes")
    print(
        json.dumps(
            {
                "probe_seconds": round(probe_seconds, 3),
                "processes": len(report.processes),
                "parse_ms": round(parse_ms, 2),
                "snapshot_bytes": snapshot_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
