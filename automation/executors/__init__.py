"""Executors that run approved fixes as Ansible jobs, behind `base.Executor`."""

from .base import (
    Executor,
    ExecutorError,
    JobRequest,
    JobState,
    JobStatus,
    get_executor,
    register_executor,
)
from .local import LocalExecutor

register_executor(LocalExecutor.kind, LocalExecutor)

__all__ = [
    "Executor",
    "ExecutorError",
    "JobRequest",
    "JobState",
    "JobStatus",
    "LocalExecutor",
    "get_executor",
    "register_executor",
]
