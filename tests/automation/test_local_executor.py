"""The local executor: job directories, states, cancel and crash handling."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from automation.executors import (
    ExecutorError,
    JobRequest,
    JobState,
    JobStatus,
    LocalExecutor,
    get_executor,
)
from automation.executors.local import build_inventory, render_extra_vars

JOB_TIMEOUT_SECONDS = 60

SLEEP_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.command:
        argv: [sleep, "{{ seconds }}"]
"""

ECHO_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "text=[{{ text }}] count={{ count + 1 }}"
"""


@pytest.fixture
def playbook_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "sleep.yml").write_text(SLEEP_PLAYBOOK)
    (directory / "echo.yml").write_text(ECHO_PLAYBOOK)
    return directory


@pytest.fixture
def executor(tmp_path: Path, playbook_dir: Path) -> LocalExecutor:
    return LocalExecutor(tmp_path / "jobs", playbook_dir=playbook_dir)


def request_for(
    ident: str, playbook: str = "echo.yml", **extra_vars: object
) -> JobRequest:
    variables = extra_vars or {"text": "hello", "count": 1}
    return JobRequest(
        ident=ident,
        playbook=playbook,
        target_host="target",
        address="",
        extra_vars=variables,
    )


def wait_for(executor: LocalExecutor, job_id: str, states: set[JobState]) -> JobStatus:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    status = executor.status(job_id)
    while status.state not in states:
        assert time.monotonic() < deadline, f"job {job_id} still {status.state}"
        time.sleep(0.2)
        status = executor.status(job_id)
    return status


def wait_until_finished(executor: LocalExecutor, job_id: str) -> JobStatus:
    finished = {state for state in JobState if state.finished}
    return wait_for(executor, job_id, finished)


def pids_running(*argv: str) -> list[int]:
    """Return the pids whose command line is exactly `argv`."""
    expected = "\0".join(argv) + "\0"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_text(errors="replace") == expected:
                pids.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def wait_for_process(*argv: str) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while not pids_running(*argv):
        assert time.monotonic() < deadline, f"the playbook never started {argv}"
        time.sleep(0.2)


def still_running_after_kill(*argv: str) -> list[int]:
    """Return the pids with command line `argv` that outlive a 5 s wait,
    since SIGKILL takes effect shortly after it is sent."""
    deadline = time.monotonic() + 5
    while pids_running(*argv) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pids_running(*argv)


def status_in_new_process(base_dir: Path, job_id: str) -> dict[str, object]:
    """Return the job's status as read by a fresh Python process."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from automation.executors import LocalExecutor\n"
        "status = LocalExecutor(Path(sys.argv[1])).status(sys.argv[2])\n"
        "print(json.dumps({'state': status.state.value, 'rc': status.rc}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(base_dir), job_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return json.loads(completed.stdout)


def test_job_state_finished():
    assert not JobState.PENDING.finished
    assert not JobState.RUNNING.finished
    assert JobState.SUCCESSFUL.finished
    assert JobState.FAILED.finished
    assert JobState.ERROR.finished
    assert JobState.CANCELED.finished


def test_get_executor_builds_local(tmp_path):
    executor = get_executor("local", base_dir=tmp_path)
    assert isinstance(executor, LocalExecutor)


def test_get_executor_unknown_kind():
    with pytest.raises(ValueError, match="'tower'.*local"):
        get_executor("tower")


def test_launch_runs_playbook(executor, tmp_path):
    status = wait_until_finished(executor, executor.launch(request_for("echo-1")))
    assert status == JobStatus(JobState.SUCCESSFUL, rc=0)
    assert "text=[hello] count=2" in executor.log("echo-1")

    job_dir = tmp_path / "jobs" / "echo-1"
    assert (job_dir / "project" / "echo.yml").is_file()
    assert (job_dir / "env" / "extravars").stat().st_mode & 0o077 == 0


def test_extra_vars_not_templated(executor):
    job_id = executor.launch(
        request_for("echo-unsafe", text="{{ 6 * 7 }}\nsecond line", count=41)
    )
    status = wait_until_finished(executor, job_id)
    assert status.state == JobState.SUCCESSFUL, executor.log(job_id)
    assert "text=[{{ 6 * 7 }}\\nsecond line] count=42" in executor.log(job_id)


def test_render_extra_vars_marks_strings():
    rendered = render_extra_vars({"paths": ["/var/tmp"], "pid": 42, "flag": True})
    assert '!unsafe "/var/tmp"' in rendered
    assert yaml.safe_load(rendered.replace("!unsafe ", "")) == {
        "paths": ["/var/tmp"],
        "pid": 42,
        "flag": True,
    }


def test_build_inventory_remote_host():
    inventory = yaml.safe_load(build_inventory("web-1", "192.0.2.10"))
    assert inventory == {"all": {"hosts": {"web-1": {"ansible_host": "192.0.2.10"}}}}


def test_job_environment_excludes_secrets(executor, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSGUARD_TEST_SECRET", "not-for-playbooks")
    wait_until_finished(executor, executor.launch(request_for("echo-env")))

    command_file = tmp_path / "jobs" / "echo-env" / "artifacts" / "echo-env" / "command"
    environment = json.loads(command_file.read_text())["env"]
    assert "OPSGUARD_TEST_SECRET" not in environment
    assert environment["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert environment["ANSIBLE_LOCAL_TEMP"].startswith(str(tmp_path))


def test_launch_rejects_duplicate_ident(executor):
    job_id = executor.launch(request_for("twice"))
    with pytest.raises(ExecutorError, match="twice already exists") as raised:
        executor.launch(request_for("twice"))
    assert raised.value.permanent
    assert wait_until_finished(executor, job_id).state == JobState.SUCCESSFUL


def test_launch_rejects_unknown_playbook(executor, tmp_path):
    with pytest.raises(ExecutorError, match="'missing.yml' not found") as raised:
        executor.launch(request_for("unknown", playbook="missing.yml"))
    assert raised.value.permanent
    assert not (tmp_path / "jobs" / "unknown").exists()


@pytest.mark.parametrize("playbook", ["../echo.yml", "/etc/passwd", ".."])
def test_launch_rejects_playbook_path(executor, playbook):
    with pytest.raises(ExecutorError, match="Invalid playbook name"):
        executor.launch(request_for("path", playbook=playbook))


@pytest.mark.parametrize("ident", ["", "Decision-1", "a/b", "../x", "-x", "a b"])
def test_launch_rejects_invalid_ident(executor, ident):
    with pytest.raises(ExecutorError, match="Invalid job id"):
        executor.launch(request_for(ident))


@pytest.mark.parametrize(
    ("target_host", "address"),
    [("web*", ""), ("all,other", ""), ("web-1", "-oProxyCommand=x"), ("web-1", "a b")],
)
def test_launch_rejects_invalid_host(executor, target_host, address):
    request = JobRequest("host", "echo.yml", target_host, address, {})
    with pytest.raises(ExecutorError, match="Invalid (inventory name|address)"):
        executor.launch(request)


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        ({"ansible_host": "evil"}, "ansible_\\* variables"),
        ({"bad-name": 1}, "Invalid extra variable name"),
        ({"when": {1, 2}}, "has type set"),
    ],
)
def test_launch_rejects_extra_vars(executor, tmp_path, extra_vars, message):
    with pytest.raises(ExecutorError, match=message):
        executor.launch(JobRequest("vars", "echo.yml", "target", "", extra_vars))
    assert not (tmp_path / "jobs" / "vars").exists()


def test_status_unknown_job(executor):
    with pytest.raises(ExecutorError, match="nothing-here not found") as raised:
        executor.status("nothing-here")
    assert raised.value.permanent


def test_log_returns_tail(executor):
    wait_until_finished(executor, executor.launch(request_for("tail")))
    log = executor.log("tail", max_chars=40)
    assert len(log) == 40
    assert executor.log("tail").endswith(log)


def test_cancel_stops_long_job(executor):
    job_id = executor.launch(request_for("cancel-1", "sleep.yml", seconds=347))
    wait_for_process("sleep", "347")

    executor.cancel(job_id)
    status = wait_until_finished(executor, job_id)
    assert status.state == JobState.CANCELED
    assert still_running_after_kill("sleep", "347") == []


def test_timeout_fails_job(tmp_path, playbook_dir):
    executor = LocalExecutor(
        tmp_path / "jobs", playbook_dir=playbook_dir, timeout_seconds=2
    )
    job_id = executor.launch(request_for("slow", "sleep.yml", seconds=348))
    status = wait_until_finished(executor, job_id)
    assert status.state == JobState.FAILED
    assert "timed out after 2 seconds" in status.detail
    assert still_running_after_kill("sleep", "348") == []


def test_killed_runner_becomes_error(executor, tmp_path):
    job_id = executor.launch(request_for("crash", "sleep.yml", seconds=349))
    wait_for_process("sleep", "349")
    record = json.loads((tmp_path / "jobs" / "crash" / "runner.json").read_text())

    os.kill(record["pid"], signal.SIGKILL)
    status = wait_until_finished(executor, job_id)
    assert status.state == JobState.ERROR
    assert "exited without writing" in status.detail
    assert still_running_after_kill("sleep", "349") == []


def test_status_after_worker_restart(executor, tmp_path, playbook_dir):
    job_id = executor.launch(request_for("restart", "sleep.yml", seconds=3))
    running = status_in_new_process(tmp_path / "jobs", job_id)
    assert running["state"] in ("pending", "running")

    restarted = LocalExecutor(tmp_path / "jobs", playbook_dir=playbook_dir)
    assert wait_until_finished(restarted, job_id).state == JobState.SUCCESSFUL
    finished = status_in_new_process(tmp_path / "jobs", job_id)
    assert finished == {"state": "successful", "rc": 0}
