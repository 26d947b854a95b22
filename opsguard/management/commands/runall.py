"""Start the web server, a Celery worker and Celery beat, and stop them together."""

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsguard.envparse import read_int

STOP_GRACE_SECONDS = 20
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when runall dies, even by
    SIGKILL, so web, worker and beat never outlive it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    help = "Run web, Celery worker and Celery beat together; Ctrl-C stops all three."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--listen",
            default=os.environ.get("OPSGUARD_LISTEN", "127.0.0.1:8000"),
            help="Address and port of the web server (default 127.0.0.1:8000, or "
            "OPSGUARD_LISTEN).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=read_int("WORKER_CONCURRENCY", 2, "a whole number of processes"),
            help="Celery worker processes (default 2, or WORKER_CONCURRENCY).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "opsguard"]
        commands = {
            "web": [python, "manage.py", "runserver", options["listen"], "--noreload"],
            "worker": [
                *celery,
                "worker",
                "--loglevel",
                settings.LOG_LEVEL,
                "--concurrency",
                str(options["concurrency"]),
                "--queues",
                settings.CELERY_TASK_DEFAULT_QUEUE,
            ],
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                settings.LOG_LEVEL,
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        stopping = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        # The children run in their own sessions, so closing the terminal
        # (SIGHUP) reaches only this process; it stops them like Ctrl-C.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, request_stop)

        self._remove_beat_schedule()
        # Children get OPSGUARD_SUPERVISOR_PID so the probe can tell OpsGuard's
        # own processes from runaway ones, and die with this process.
        environment = {**os.environ, "OPSGUARD_SUPERVISOR_PID": str(os.getpid())}
        processes = {
            name: subprocess.Popen(
                argv,
                start_new_session=True,
                env=environment,
                preexec_fn=_die_with_parent,
            )
            for name, argv in commands.items()
        }
        try:
            self._supervise(processes, options["listen"], lambda: stopping)
        finally:
            self._stop(processes)

    def _supervise(
        self,
        processes: dict[str, subprocess.Popen[bytes]],
        listen: str,
        stopping: Callable[[], bool],
    ) -> None:
        self.stdout.write(
            f"OpsGuard is starting: dashboard at http://{listen}/ "
            "(Ctrl-C stops web, worker and beat)."
        )
        self._first_cycle()

        exited: list[str] = []
        while not stopping() and not exited:
            exited = [n for n, p in processes.items() if p.poll() is not None]
            time.sleep(0.5)
        if exited:
            raise CommandError(
                f"{', '.join(exited)} exited on its own, so OpsGuard stopped; see "
                "the messages above. If the web server could not listen, set "
                "OPSGUARD_LISTEN to a free address, e.g. 127.0.0.1:8765."
            )

    def _remove_beat_schedule(self) -> None:
        # A schedule saved by an earlier run makes beat collect at once, on
        # top of the first cycle below; without it beat waits one interval.
        path = Path(settings.CELERY_BEAT_SCHEDULE_FILENAME)
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()

    def _first_cycle(self) -> None:
        # Beat first collects one COLLECT_INTERVAL after it starts; collect at
        # once instead. A cycle left in the broker by a start that failed is
        # dropped rather than run at the next start.
        from incidents.tasks import collect_all

        collect_all.apply_async(expires=settings.COLLECT_INTERVAL)

    def _stop(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        # SIGTERM to the main process only: the Celery worker then stops its
        # pool children itself after the tasks at hand (a warm shutdown).
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(
                    f"{name} did not stop in {STOP_GRACE_SECONDS} s; killing it."
                )
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write("OpsGuard stopped.")
