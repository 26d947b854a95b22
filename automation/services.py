"""Launch approved fixes, follow their jobs, and verify the result."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import services as approvals
from approvals.models import DecisionStatus, RiskDecision
from approvals.notify import queue_result
from incidents import services as incidents
from incidents.detectors import Measurement, baseline

from .catalog import CatalogError, check_proposal
from .executors.base import Executor, ExecutorError, JobRequest, get_executor
from .models import JobRun, JobState, Verification

logger = logging.getLogger(__name__)

LOG_TAIL_CHARS = 20_000


def executor_for(kind: str) -> Executor:
    if kind == "local":
        return get_executor(
            kind,
            base_dir=Path(settings.DATA_DIR) / "jobs",
            timeout_seconds=settings.JOB_TIMEOUT_SECONDS,
        )
    return get_executor(kind)


def job_ident(decision_id: int) -> str:
    return f"decision-{decision_id}"


def launch(decision_id: int) -> JobRun | None:
    """Start the job of an approved decision; return None when another call
    already did, so a task delivered twice launches one job."""
    decision = RiskDecision.objects.select_related("template", "host").get(
        pk=decision_id
    )
    if decision.status != DecisionStatus.APPROVED or decision.template is None:
        return None
    try:
        with transaction.atomic():
            job = JobRun.objects.create(
                decision=decision, executor=decision.template.executor
            )
    except IntegrityError:
        return None

    # The decision row may have been changed since it was proposed, so the
    # catalog checks it again right before anything runs.
    problem = _recheck(decision)
    if problem:
        logger.error("Decision %s not launched: %s", decision_id, problem)
        _finish_without_run(job, problem)
        return job

    request = JobRequest(
        ident=job_ident(decision_id),
        playbook=decision.template.playbook,
        target_host=decision.host.name,
        address=decision.host.address,
        extra_vars=dict(decision.parameters),
    )
    try:
        external_id = executor_for(job.executor).launch(request)
    except (ExecutorError, ValueError) as error:
        logger.warning("Launch for decision %s failed: %s", decision_id, error)
        _finish_without_run(job, str(error))
        return job

    JobRun.objects.filter(pk=job.pk).update(
        external_id=external_id, state=JobState.RUNNING, launched_at=timezone.now()
    )
    approvals.mark_running(decision_id)
    job.refresh_from_db()
    return job


def _recheck(decision: RiskDecision) -> str:
    """Return why the catalog no longer allows this decision, or ''."""
    assert decision.template is not None
    try:
        checked = check_proposal(
            decision.host, decision.template.slug, decision.parameters
        )
    except CatalogError as error:
        return f"rejected by the catalog at launch: {error}"
    if checked.risk_level.pk != decision.risk_level_id:
        return (
            f"risk level is now {checked.risk_level.name}, not the "
            f"{decision.risk_level} it was approved at; propose it again"
        )
    return ""


def _finish_without_run(job: JobRun, error: str) -> None:
    JobRun.objects.filter(pk=job.pk).update(
        state=JobState.ERROR, last_error=error, finished_at=timezone.now()
    )
    approvals.mark_finished(job.decision_id, False, f"launch failed: {error}")
    queue_result(job.decision_id, "job_failed", f"launch failed: {error}")
    job.refresh_from_db()


def poll(job_run_id: int, seen_polls: int) -> bool:
    """Check a job once; return whether another poll should follow.

    `seen_polls` is the poll count the caller scheduled against. Only the call
    that moves the counter goes on, so a poll task delivered twice does not
    start a second chain of polls.
    """
    claimed = JobRun.objects.filter(
        pk=job_run_id, poll_count=seen_polls, state=JobState.RUNNING
    ).update(poll_count=seen_polls + 1, last_polled_at=timezone.now())
    if not claimed:
        return False

    job = JobRun.objects.get(pk=job_run_id)
    executor = executor_for(job.executor)
    try:
        status = executor.status(job.external_id)
    except ExecutorError as error:
        JobRun.objects.filter(pk=job.pk).update(last_error=str(error))
        logger.warning("Poll of job %s failed: %s", job.pk, error)
        return not error.permanent
    if not status.state.finished:
        return True

    log = _read_log(executor, job.external_id)
    JobRun.objects.filter(pk=job.pk).update(
        state=status.state,
        rc=status.rc,
        log=log,
        finished_at=timezone.now(),
        last_error=status.detail if status.state != JobState.SUCCESSFUL else "",
    )
    job.refresh_from_db()
    verify(job)
    return False


def _read_log(executor: Executor, external_id: str) -> str:
    try:
        return executor.log(external_id, max_chars=LOG_TAIL_CHARS)
    except ExecutorError as error:
        return f"(log not available: {error})"


def verify(job: JobRun) -> None:
    """Probe the host again and record whether the finding is gone."""
    decision = RiskDecision.objects.select_related("finding", "host").get(
        pk=job.decision_id
    )
    finding = decision.finding
    if job.state != JobState.SUCCESSFUL:
        detail = f"job {job.state}: {job.last_error or _tail(job.log)}"
        approvals.mark_finished(decision.pk, False, detail)
        queue_result(decision.pk, "job_failed", detail)
        return

    snapshot = incidents.probe_host(decision.host)
    if snapshot is None or not snapshot.reachable:
        error = snapshot.error if snapshot else decision.host.last_error
        measurement = Measurement(True, None, f"host could not be probed: {error}")
        outcome = Verification.UNKNOWN
    else:
        measurement = incidents.measure_finding(finding, snapshot)
        before = baseline(finding.kind, finding.evidence)
        outcome = _compare(measurement.present, measurement.value, before)

    JobRun.objects.filter(pk=job.pk).update(
        verification=outcome,
        verification_detail=measurement.detail,
        verified_at=timezone.now(),
    )
    if outcome == Verification.RESOLVED:
        incidents.resolve_finding(finding)
    approvals.mark_finished(
        decision.pk,
        outcome == Verification.RESOLVED,
        f"verification: {outcome.label.lower()}; {measurement.detail}",
    )
    queue_result(decision.pk, outcome.value, measurement.detail)


def _compare(present: bool, now: float | None, before: float | None) -> Verification:
    if not present:
        return Verification.RESOLVED
    if now is not None and before is not None and now > before:
        return Verification.WORSE
    return Verification.STILL_PRESENT


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
