"""The interface that every executor of Ansible jobs implements.

`launch` starts a job and returns at once. The caller then calls `status`
every few seconds until the state is finished, so no worker waits for a job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class JobState(StrEnum):
    """State of a job, in the words that AWX uses."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    ERROR = "error"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self not in (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True)
class JobRequest:
    """One playbook run on one host.

    `ident` is the unique job id that the caller chooses, made of [a-z0-9-],
    e.g. "decision-42". `playbook` is a file name in automation/playbooks.
    `target_host` is the host's inventory name, and `address` is how to reach
    it, where "" means this machine.
    """

    ident: str
    playbook: str
    target_host: str
    address: str
    extra_vars: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    rc: int | None = None
    detail: str = ""


class ExecutorError(Exception):
    """An executor call failed. `permanent` is True when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles task exceptions, and the default reduce would call
        # __init__ without the keyword-only argument.
        return (_rebuild_error, (type(self), self.message, self.permanent))


def _rebuild_error(
    cls: type[ExecutorError], message: str, permanent: bool
) -> ExecutorError:
    return cls(message, permanent=permanent)


class Executor(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def launch(self, request: JobRequest) -> str:
        """Start the job and return its external job id without waiting."""

    @abstractmethod
    def status(self, job_id: str) -> JobStatus:
        """Return the current state of the job."""

    @abstractmethod
    def log(self, job_id: str, max_chars: int = 20000) -> str:
        """Return the last `max_chars` characters of the job's output."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Ask the job to stop without waiting for it to stop.

        `status` reports canceled once the job has stopped.
        """


_EXECUTORS: dict[str, Callable[..., Executor]] = {}


def register_executor(kind: str, factory: Callable[..., Executor]) -> None:
    """Make `get_executor(kind, ...)` build executors with `factory`."""
    _EXECUTORS[kind] = factory


def get_executor(kind: str, **options: Any) -> Executor:
    """Build the executor of the given kind with its constructor options."""
    factory = _EXECUTORS.get(kind)
    if factory is None:
        known = ", ".join(sorted(_EXECUTORS)) or "none"
        raise ValueError(f"Unknown executor kind {kind!r}. Use one of: {known}.")
    return factory(**options)
