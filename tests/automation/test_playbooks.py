"""Run the bundled playbooks for real with the local executor on this machine."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from automation.executors import JobRequest, JobState, JobStatus, LocalExecutor
from automation.executors.local import DEFAULT_PLAYBOOK_DIR, read_start_ticks

JOB_TIMEOUT_SECONDS = 60
OLD_SECONDS = 48 * 3600


@pytest.fixture
def executor(tmp_path: Path) -> LocalExecutor:
    return LocalExecutor(tmp_path / "jobs")


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait(timeout=10)


def run_job(
    executor: LocalExecutor, ident: str, playbook: str, extra_vars: dict[str, object]
) -> JobStatus:
    job_id = executor.launch(
        JobRequest(
            ident=ident,
            playbook=playbook,
            target_host="target",
            address="",
            extra_vars=extra_vars,
        )
    )
    return wait_until_finished(executor, job_id)


def wait_until_finished(executor: LocalExecutor, job_id: str) -> JobStatus:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    status = executor.status(job_id)
    while not status.state.finished:
        assert time.monotonic() < deadline, f"job {job_id} still {status.state}"
        time.sleep(0.2)
        status = executor.status(job_id)
    return status


def make_old(path: Path) -> None:
    old = time.time() - OLD_SECONDS
    os.utime(path, (old, old), follow_symlinks=False)


@pytest.mark.parametrize(
    "playbook", sorted(p.name for p in DEFAULT_PLAYBOOK_DIR.glob("*.yml"))
)
def test_playbook_syntax_check(playbook):
    ansible_playbook = Path(sys.executable).parent / "ansible-playbook"
    completed = subprocess.run(
        [
            str(ansible_playbook),
            "--syntax-check",
            "-i",
            "localhost,",
            str(DEFAULT_PLAYBOOK_DIR / playbook),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_kill_process_terminates(executor, sleeper):
    job_id = executor.launch(
        JobRequest(
            ident="kill-1",
            playbook="kill_process.yml",
            target_host="target",
            address="",
            extra_vars={
                "pid": sleeper.pid,
                "start_ticks": read_start_ticks(sleeper.pid),
                "comm": "sleep",
            },
        )
    )
    assert executor.status(job_id).state in (JobState.PENDING, JobState.RUNNING)

    status = wait_until_finished(executor, job_id)
    assert status.state == JobState.SUCCESSFUL, executor.log(job_id)
    assert status.rc == 0
    assert sleeper.wait(timeout=5) == -15


def test_kill_process_sigkill_after_grace(executor):
    # Ignored signals stay ignored across exec, so sleep ignores SIGTERM.
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; exec sleep 300"])
    try:
        time.sleep(0.2)
        status = run_job(
            executor,
            "kill-stubborn",
            "kill_process.yml",
            {
                "pid": stubborn.pid,
                "start_ticks": read_start_ticks(stubborn.pid),
                "comm": "sleep",
                "grace_seconds": 1,
            },
        )
        assert status.state == JobState.SUCCESSFUL, executor.log("kill-stubborn")
        assert stubborn.wait(timeout=5) == -9
    finally:
        stubborn.kill()
        stubborn.wait(timeout=10)


def test_kill_process_pid_reused(executor, sleeper):
    start_ticks = read_start_ticks(sleeper.pid)
    assert start_ticks is not None
    status = run_job(
        executor,
        "kill-reused",
        "kill_process.yml",
        {"pid": sleeper.pid, "start_ticks": start_ticks + 1, "comm": "sleep"},
    )
    assert status.state == JobState.FAILED
    assert "was reused by another process" in executor.log("kill-reused")
    assert sleeper.poll() is None


def test_kill_process_already_gone(executor):
    process = subprocess.Popen(["true"])
    start_ticks = read_start_ticks(process.pid)
    process.wait(timeout=10)

    status = run_job(
        executor,
        "kill-gone",
        "kill_process.yml",
        {"pid": process.pid, "start_ticks": start_ticks, "comm": "true"},
    )
    assert status.state == JobState.SUCCESSFUL, executor.log("kill-gone")
    assert "is already gone, so there is nothing to do" in executor.log("kill-gone")


def test_kill_process_rejects_pid_1(executor):
    status = run_job(
        executor, "kill-init", "kill_process.yml", {"pid": 1, "start_ticks": 0}
    )
    assert status.state == JobState.FAILED
    assert "pid must be an integer greater than 1" in executor.log("kill-init")


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    """Create a mount directory with old and new files, and old files outside."""
    mount = tmp_path / "mount"
    logs = mount / "logs"
    (logs / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()

    (logs / "old.log").write_text("a" * 1000)
    (logs / "sub" / "old.gz").write_text("b" * 234)
    (logs / "new.log").write_text("new")
    (logs / ".hidden").write_text("hidden")
    (outside / "target.log").write_text("outside")
    (logs / "link.log").symlink_to(outside / "target.log")
    (mount / "escape").symlink_to(outside)
    for path in (
        logs / "old.log",
        logs / "sub" / "old.gz",
        logs / ".hidden",
        logs / "link.log",
        outside / "target.log",
    ):
        make_old(path)
    return tmp_path


def test_disk_cleanup_deletes_old_files(executor, disk):
    logs = disk / "mount" / "logs"
    status = run_job(
        executor,
        "cleanup-1",
        "disk_cleanup.yml",
        {"mount": str(disk / "mount"), "paths": [str(logs)]},
    )
    assert status.state == JobState.SUCCESSFUL, executor.log("cleanup-1")
    assert not (logs / "old.log").exists()
    assert not (logs / "sub" / "old.gz").exists()
    assert (logs / "new.log").exists()
    assert (logs / ".hidden").exists()
    assert (logs / "link.log").is_symlink()
    assert (disk / "outside" / "target.log").exists()
    assert re.search(r"Deleted 2 files, freed 1234 bytes", executor.log("cleanup-1"))


def test_disk_cleanup_rejects_outside_path(executor, disk):
    logs = disk / "mount" / "logs"
    status = run_job(
        executor,
        "cleanup-outside",
        "disk_cleanup.yml",
        {"mount": str(disk / "mount"), "paths": [str(logs), str(disk / "outside")]},
    )
    assert status.state == JobState.FAILED
    assert "must be under the mount" in executor.log("cleanup-outside")
    assert (logs / "old.log").exists()
    assert (disk / "outside" / "target.log").exists()


def test_disk_cleanup_rejects_symlink_escape(executor, disk):
    status = run_job(
        executor,
        "cleanup-escape",
        "disk_cleanup.yml",
        {"mount": str(disk / "mount"), "paths": [str(disk / "mount" / "escape")]},
    )
    assert status.state == JobState.FAILED
    assert "resolves to" in executor.log("cleanup-escape")
    assert (disk / "outside" / "target.log").exists()


def test_restart_service_rejects_bad_name(executor):
    status = run_job(
        executor, "restart-bad", "restart_service.yml", {"service": "nginx; rm -rf /"}
    )
    assert status.state == JobState.FAILED
    assert "Invalid service name nginx; rm -rf /" in executor.log("restart-bad")
