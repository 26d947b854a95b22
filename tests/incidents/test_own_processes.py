"""OpsGuard never proposes to kill its own processes."""

import os
import signal
import subprocess
import sys
import time

from incidents.collectors.local import LocalCollector
from incidents.detectors import _is_runaway
from incidents.services import ProbeTarget, own_processes, snapshot_report

BURN = "import time\nend = time.time() + 8\nwhile time.time() < end: pass\n"
SPAWN = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BURN!r}])"


def test_supervisor_tree_is_own(monkeypatch):
    # A child of this process plays runall's worker; its own child burns CPU.
    worker = subprocess.Popen([sys.executable, "-c", SPAWN], start_new_session=True)
    monkeypatch.setenv("OPSGUARD_SUPERVISOR_PID", str(os.getpid()))
    time.sleep(0.5)
    try:
        report = LocalCollector().probe(ProbeTarget("localhost", "", []))
        own = own_processes(report)
        data = snapshot_report(report, own)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    burner = [p for p in data["top_cpu"] if p["ppid"] == worker.pid]
    assert worker.pid in own
    assert burner, "the burning grandchild is not in top_cpu"
    assert burner[0]["opsguard"]
    assert not _is_runaway(burner[0])


def test_without_supervisor_only_self(monkeypatch):
    monkeypatch.delenv("OPSGUARD_SUPERVISOR_PID", raising=False)
    report = LocalCollector().probe(ProbeTarget("localhost", "", []))

    assert own_processes(report) == {os.getpid()}
