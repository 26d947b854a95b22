"""Time a fresh clone from `make run` to the dashboard's first snapshot.

Clones this repository into a temporary folder, runs `make run` there on a
free port with the embedded default (SQLite, file broker), and waits until
the SQLite database contains a snapshot of this machine. Then sends Ctrl-C
(SIGINT to the process group) and times the stop. The fresh virtualenv is
installed from whatever package index pip is configured with, so the figure
includes that install. The last line is one JSON object with the figures.
Run: .venv/bin/python bench/first_snapshot.py
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def snapshot_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as connection:
            row = connection.execute(
                "SELECT count(*) FROM incidents_healthsnapshot"
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def wait_for_snapshot(database: Path, started: float) -> float:
    while time.monotonic() - started < LIMIT_SECONDS:
        if snapshot_count(database):
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"no snapshot within {LIMIT_SECONDS} s")


def stop(process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    return time.monotonic() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        clone = Path(folder) / "opsguard"
        subprocess.run(["git", "clone", "-q", str(REPOSITORY), str(clone)], check=True)
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "OPSGUARD_DATA_DIR")
        }
        environment["OPSGUARD_LISTEN"] = f"127.0.0.1:{free_port()}"

        started = time.monotonic()
        with open(Path(folder) / "run.log", "wb") as log:
            process = subprocess.Popen(
                ["make", "run"],
                cwd=clone,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                first = wait_for_snapshot(clone / "var" / "opsguard.sqlite3", started)
            finally:
                stop_seconds = stop(process)

    print(f"fresh clone to first snapshot: {first:.1f} s (install included)")
    print(f"Ctrl-C to every process stopped: {stop_seconds:.1f} s")
    figures = {
        "first_snapshot_seconds": round(first, 1),
        "stop_seconds": round(stop_seconds, 1),
    }
    print(json.dumps(figures))
    sys.exit(0)


if __name__ == "__main__":
    main()
