"""Run the bundled playbooks on this machine with ansible-runner.

`launch` starts ansible-runner as a detached child process and returns. All
state lives in the job directory `<base_dir>/<ident>/`, so another worker
process, or the same one after a restart, finds the job from its id:

    project/<playbook>         copy of the playbook as launched
    inventory/hosts            the target host (YAML)
    env/extravars              the variables (YAML, every string !unsafe)
    env/settings               ansible-runner settings, including job_timeout
    runner.json                pid and start time of the ansible-runner process
    runner-output.log          ansible-runner's own stdout and stderr
    canceled                   exists once `cancel` signalled the runner
    artifacts/<ident>/         written by ansible-runner: stdout, status, rc
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .base import Executor, ExecutorError, JobRequest, JobState, JobStatus
from .runner_input import (
    IDENT_PATTERN,
    build_inventory,
    check_request,
    render_extra_vars,
    runner_environment,
)

logger = logging.getLogger(__name__)

DEFAULT_PLAYBOOK_DIR = Path(__file__).resolve().parent.parent / "playbooks"

RUNNER_RECORD = "runner.json"
RUNNER_OUTPUT = "runner-output.log"
CANCELED_MARKER = "canceled"

# Final words that ansible-runner writes to artifacts/<ident>/status.
RUNNER_STATES = {
    "successful": JobState.SUCCESSFUL,
    "failed": JobState.FAILED,
    "timeout": JobState.FAILED,
    "canceled": JobState.CANCELED,
}

# Exit codes of ansible-playbook (ansible-core 2.19 documentation).
PLAYBOOK_EXIT_CODES = {
    1: "an error occurred",
    2: "a task failed on the host",
    3: "the host was unreachable",
    4: "the playbook could not be parsed",
    5: "the options were invalid",
}

# ansible-runner checks for a cancel or a timeout whenever it stops waiting for
# output. It waits up to 5 seconds by default, so 1 makes a cancel act sooner.
RUNNER_POLL_SECONDS = 1

# Runner processes that this process started, kept so that they can be
# reaped (waited for) once they exit.
# NOTE: with several worker processes, a runner is reaped only by the process
# that launched it, the next time that process calls `launch` or `status`.
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


class LocalExecutor(Executor):
    kind = "local"

    def __init__(
        self,
        base_dir: Path,
        playbook_dir: Path | None = None,
        timeout_seconds: int = 1800,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError(
                f"timeout_seconds must be a positive number of seconds, "
                f"got {timeout_seconds}."
            )
        # Absolute, because the job's processes are found by their arguments.
        self.base_dir = Path(base_dir).absolute()
        self.playbook_dir = Path(playbook_dir or DEFAULT_PLAYBOOK_DIR)
        self.timeout_seconds = timeout_seconds

    def launch(self, request: JobRequest) -> str:
        check_request(request, self.playbook_dir)
        extra_vars = render_extra_vars(request.extra_vars)
        _reap_children()

        job_dir = self._create_job_dir(request.ident)
        try:
            self._write_job_files(job_dir, request, extra_vars)
            process = self._start_runner(job_dir, request)
        except OSError as error:
            # Nothing runs yet, so removing the directory lets a retry launch.
            shutil.rmtree(job_dir, ignore_errors=True)
            raise ExecutorError(
                f"Could not start job {request.ident} in {job_dir}: {error}",
                permanent=False,
            ) from error

        logger.info(
            "Started ansible-runner %s for job %s: %s on %s",
            process.pid,
            request.ident,
            request.playbook,
            request.target_host,
        )
        return request.ident

    def status(self, job_id: str) -> JobStatus:
        job_dir = self._existing_job_dir(job_id)
        _reap_children()

        result = self._read_result(job_dir, job_id, require_rc=True)
        if result is None:
            record = _read_record(job_dir)
            if record is not None and _runner_alive(record):
                if (job_dir / "artifacts" / job_id).is_dir():
                    return JobStatus(JobState.RUNNING)
                return JobStatus(JobState.PENDING)

            # The runner may have written its result just before it exited.
            result = self._read_result(job_dir, job_id, require_rc=False)
            if result is None:
                result = _status_without_result(job_dir, job_id, record)

        _stop_leftover_processes(job_dir, job_id)
        return result

    def log(self, job_id: str, max_chars: int = 20000) -> str:
        job_dir = self._existing_job_dir(job_id)
        playbook_output = _read_tail(
            job_dir / "artifacts" / job_id / "stdout", max_chars
        )
        runner_output = _read_tail(job_dir / RUNNER_OUTPUT, max_chars)

        # The runner's own output is empty unless ansible-runner itself failed.
        parts = [text for text in (playbook_output, runner_output) if text.strip()]
        return "\n".join(parts)[-max_chars:]

    def cancel(self, job_id: str) -> None:
        job_dir = self._existing_job_dir(job_id)
        if self._read_result(job_dir, job_id, require_rc=False) is not None:
            logger.info(
                "Job %s already finished, so there is nothing to cancel", job_id
            )
            return

        record = _read_record(job_dir)
        if record is None or not _runner_alive(record):
            logger.info("Job %s has no running ansible-runner to cancel", job_id)
            return

        # The marker makes the job canceled even when SIGTERM arrives before
        # ansible-runner installed its handler and it dies without a result.
        (job_dir / CANCELED_MARKER).touch()
        pid = record["pid"]
        try:
            # start_new_session made the runner the leader of its own group.
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            logger.info("ansible-runner %s of job %s already exited", pid, job_id)
            return
        logger.info("Sent SIGTERM to ansible-runner %s of job %s", pid, job_id)

    def _create_job_dir(self, ident: str) -> Path:
        job_dir = self.base_dir / ident
        try:
            self.base_dir.mkdir(parents=True, exist_ok=True)
            job_dir.mkdir(mode=0o700)
        except FileExistsError as error:
            # A retried launch task must not start a second run of the fix.
            raise ExecutorError(
                f"Job {ident} already exists in {job_dir}. A job id can be "
                "launched only once, so launch the fix with a new id.",
                permanent=True,
            ) from error
        except OSError as error:
            raise ExecutorError(
                f"Could not create the job directory {job_dir}: {error}",
                permanent=False,
            ) from error
        return job_dir

    def _write_job_files(
        self, job_dir: Path, request: JobRequest, extra_vars: str
    ) -> None:
        for name in ("project", "inventory", "env", "tmp"):
            (job_dir / name).mkdir(mode=0o700)

        # A copy keeps the job's playbook fixed if the bundled file changes.
        shutil.copyfile(
            self.playbook_dir / request.playbook, job_dir / "project" / request.playbook
        )
        inventory = build_inventory(request.target_host, request.address)
        _write_private(job_dir / "inventory" / "hosts", inventory)
        _write_private(job_dir / "env" / "extravars", extra_vars)
        settings = {
            "job_timeout": self.timeout_seconds,
            "pexpect_timeout": RUNNER_POLL_SECONDS,
        }
        _write_private(job_dir / "env" / "settings", json.dumps(settings))

    def _start_runner(
        self, job_dir: Path, request: JobRequest
    ) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "ansible_runner",
            "run",
            str(job_dir),
            "--playbook",
            request.playbook,
            "--ident",
            request.ident,
            "--limit",
            request.target_host,
            # The playbook output goes to artifacts/<ident>/stdout, so the
            # runner's own output keeps only its errors.
            "--quiet",
        ]
        with open(job_dir / RUNNER_OUTPUT, "wb") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=job_dir,
                env=runner_environment(job_dir),
                start_new_session=True,
            )
        with _children_lock:
            _children[process.pid] = process

        record = {
            "pid": process.pid,
            "start_ticks": read_start_ticks(process.pid),
            "timeout_seconds": self.timeout_seconds,
            "launched_at": datetime.now(UTC).isoformat(),
        }
        try:
            _write_private(job_dir / RUNNER_RECORD, json.dumps(record))
        except OSError:
            # Without the record no status call could follow the runner. It
            # is still starting Python, so no task of the playbook has run.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            raise
        return process

    def _existing_job_dir(self, job_id: str) -> Path:
        if not IDENT_PATTERN.fullmatch(job_id):
            raise ExecutorError(
                f"Invalid job id {job_id!r}: job ids are made of a-z, 0-9 and '-'.",
                permanent=True,
            )
        job_dir = self.base_dir / job_id
        if not job_dir.is_dir():
            raise ExecutorError(
                f"Job {job_id} not found: {job_dir} does not exist. Check the "
                "executor's base_dir.",
                permanent=True,
            )
        return job_dir

    def _read_result(
        self, job_dir: Path, job_id: str, *, require_rc: bool
    ) -> JobStatus | None:
        """Return the final status from ansible-runner's artifacts, or None
        while the runner has not written it."""
        artifact_dir = job_dir / "artifacts" / job_id
        runner_state = _read_text(artifact_dir / "status").strip()
        state = RUNNER_STATES.get(runner_state)
        if state is None:
            return None

        # ansible-runner writes status first and rc right after it.
        rc = _parse_int(_read_text(artifact_dir / "rc"))
        if rc is None and require_rc:
            return None
        return JobStatus(state, rc, _result_detail(runner_state, rc, job_dir))


def read_start_ticks(pid: int) -> int | None:
    """Return field 22 of /proc/<pid>/stat, the start time in clock ticks
    after boot, or None when the process does not exist."""
    fields = _read_stat_fields(pid)
    if fields is None:
        return None
    return int(fields[19])


def _read_stat_fields(pid: int) -> list[str] | None:
    """Return the fields of /proc/<pid>/stat from field 3 (the state) on."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 2, the process name in parentheses, may contain spaces and ')'.
    return text.rsplit(")", 1)[1].split()


def _runner_alive(record: dict[str, Any]) -> bool:
    pid = record["pid"]
    fields = _read_stat_fields(pid)
    if fields is None:
        return False
    # A zombie (Z) or dead (X) runner has exited, and a different start time
    # means the pid now belongs to another process.
    if fields[0] in ("Z", "X"):
        return False
    start_ticks = record.get("start_ticks")
    return start_ticks is None or int(fields[19]) == start_ticks


def _stop_leftover_processes(job_dir: Path, job_id: str) -> None:
    # On cancel or timeout ansible-runner 2.4 kills only ansible-playbook's
    # process group, and nothing when the runner itself is killed. The worker
    # process that ansible-core 2.19 forks for a task runs in a session of its
    # own, so it would go on with its task after the job is reported finished.
    stopped = stop_orphaned_playbook(job_dir, job_id)
    if stopped:
        logger.warning(
            "Killed %s leftover ansible-playbook processes of finished job %s",
            stopped,
            job_id,
        )


def stop_orphaned_playbook(job_dir: Path, job_id: str) -> int:
    """Kill the process groups of ansible-playbook processes of the job and
    return how many processes matched."""
    command = _read_text(job_dir / "artifacts" / job_id / "command")
    if not command:
        return 0
    try:
        arguments = [str(argument) for argument in json.loads(command)["command"][1:]]
    except (ValueError, KeyError, TypeError):
        logger.warning("Invalid artifacts/%s/command in %s", job_id, job_dir)
        return 0

    own_group = os.getpgid(0)
    matched = 0
    for pid in _pids_with_arguments(arguments):
        try:
            group = os.getpgid(pid)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue
        matched += 1
    return matched


def _pids_with_arguments(arguments: list[str]) -> list[int]:
    """Return the pids whose command line ends with `arguments`.

    The arguments name the job's inventory directory, so they match only the
    job's ansible-playbook and the worker processes that it forked.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        cmdline = raw.decode(errors="replace").split("\0")[:-1]
        if len(cmdline) > len(arguments) and cmdline[-len(arguments) :] == arguments:
            pids.append(int(entry.name))
    return pids


def _reap_children() -> None:
    with _children_lock:
        for pid, process in list(_children.items()):
            if process.poll() is not None:
                del _children[pid]


def _status_without_result(
    job_dir: Path, job_id: str, record: dict[str, Any] | None
) -> JobStatus:
    if (job_dir / CANCELED_MARKER).exists():
        return JobStatus(
            JobState.CANCELED, detail="canceled before ansible-runner wrote a result"
        )
    if record is None:
        detail = (
            f"ansible-runner was never started for job {job_id}: "
            f"{job_dir / RUNNER_RECORD} is missing"
        )
    else:
        detail = (
            f"ansible-runner (pid {record['pid']}) exited without writing "
            f"artifacts/{job_id}/status. Its output is in {job_dir / RUNNER_OUTPUT}"
        )
    return JobStatus(JobState.ERROR, detail=detail)


def _result_detail(runner_state: str, rc: int | None, job_dir: Path) -> str:
    if runner_state == "timeout":
        record = _read_record(job_dir) or {}
        timeout = record.get("timeout_seconds", "the job timeout")
        return f"timed out after {timeout} seconds, so ansible-runner stopped it"
    if runner_state == "canceled":
        return "canceled"
    if runner_state == "failed" and rc is not None:
        reason = PLAYBOOK_EXIT_CODES.get(rc, "see the job log")
        return f"ansible-playbook exited with code {rc}: {reason}"
    if runner_state == "failed":
        return "ansible-playbook failed without an exit code, see the job log"
    return ""


def _read_record(job_dir: Path) -> dict[str, Any] | None:
    path = job_dir / RUNNER_RECORD
    text = _read_text(path)
    if not text:
        return None
    try:
        record: dict[str, Any] = json.loads(text)
    except ValueError as error:
        raise ExecutorError(
            f"Invalid JSON in {path}: {error}. The job cannot be followed, so "
            "check its ansible-runner process by hand.",
            permanent=True,
        ) from error
    return record


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _read_tail(path: Path, max_chars: int) -> str:
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            # A UTF-8 character takes at most 4 bytes.
            file.seek(max(0, size - 4 * max_chars))
            data = file.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace")[-max_chars:]


def _parse_int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _write_private(path: Path, text: str) -> None:
    """Create a file that only the owner can read, since extra vars may be
    sensitive."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
