"""The risk decision state machine.

Every transition is one conditional UPDATE on the decision's current status.
So a click racing the deadline, a double click or a task delivered twice
changes the row at most once, and only the caller that changed it goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from automation.catalog import CatalogError, check_proposal
from incidents.engines import Proposal
from incidents.models import AuditEvent, Finding
from incidents.services import record_event

from .models import DecisionStatus, RiskDecision, TimeoutAction

logger = logging.getLogger(__name__)

Channel = AuditEvent.Channel


@dataclass(frozen=True)
class Outcome:
    changed: bool
    status: str
    message: str


def open_decision(finding: Finding, proposal: Proposal) -> RiskDecision:
    """Create the decision for a finding: pending with its deadline, or manual
    when the proposal is not an allowed catalog fix."""
    base = {
        "finding": finding,
        "incident": finding.incident,
        "host": finding.host,
        "engine": proposal.engine,
        "rationale": proposal.rationale,
    }
    if proposal.template is None:
        decision = RiskDecision.objects.create(
            **base, status=DecisionStatus.MANUAL, parameters=proposal.parameters
        )
        _audit(decision, "manual", proposal.rationale, "engine", Channel.SYSTEM)
        return decision

    try:
        checked = check_proposal(finding.host, proposal.template, proposal.parameters)
    except CatalogError as error:
        base["rationale"] = f"{proposal.rationale}; rejected by the catalog: {error}"
        decision = RiskDecision.objects.create(
            **base, status=DecisionStatus.MANUAL, parameters=proposal.parameters
        )
        _audit(decision, "manual", str(error), "catalog", Channel.SYSTEM)
        return decision

    level = checked.risk_level
    decision = RiskDecision.objects.create(
        **base,
        template=checked.template,
        parameters=checked.parameters,
        risk_level=level,
        status=DecisionStatus.PENDING,
        deadline=timezone.now() + timedelta(seconds=level.timeout_seconds),
    )
    message = (
        f"{checked.template.slug} proposed at {level.name} risk; "
        f"{level.get_on_timeout_display().lower()} at {decision.deadline:%H:%M:%S} UTC"
    )
    _audit(decision, "proposed", message, proposal.engine, Channel.SYSTEM)
    transaction.on_commit(lambda: _schedule_deadline(decision))
    return decision


def _schedule_deadline(decision: RiskDecision) -> None:
    from .tasks import expire_decision

    assert decision.deadline is not None
    countdown = (decision.deadline - timezone.now()).total_seconds()
    # A worker keeps an ETA task unacknowledged until it runs. Past half the
    # broker's visibility timeout it could be delivered twice, so the sweeper
    # applies such deadlines instead.
    if countdown > settings.CELERY_VISIBILITY_TIMEOUT / 2:
        return
    expire_decision.apply_async((decision.pk,), eta=decision.deadline)


def can_approve(user: AbstractUser | AnonymousUser, decision: RiskDecision) -> bool:
    if decision.risk_level is None:
        return False
    codename = decision.risk_level.permission_codename
    return bool(user.is_authenticated and user.has_perm(f"approvals.{codename}"))


def _permission_message(decision: RiskDecision) -> str:
    if decision.risk_level is None:
        return f"decision {decision.pk} needs manual intervention; nothing to approve"
    return (
        f"you may not decide {decision.risk_level.name}-risk decisions; ask an "
        f"admin for the approvals.{decision.risk_level.permission_codename} permission"
    )


def approve(decision_id: int, user: AbstractUser, channel: str) -> Outcome:
    return _decide(decision_id, user, channel, DecisionStatus.APPROVED)


def reject(decision_id: int, user: AbstractUser, channel: str) -> Outcome:
    return _decide(decision_id, user, channel, DecisionStatus.REJECTED)


def _decide(
    decision_id: int, user: AbstractUser, channel: str, target: DecisionStatus
) -> Outcome:
    """Apply a human's decision, if the user may decide at this risk level and
    the deadline has not passed."""
    decision = RiskDecision.objects.select_related("risk_level").get(pk=decision_id)
    if not can_approve(user, decision):
        return Outcome(False, decision.status, _permission_message(decision))
    changed = _transition(
        decision_id,
        target,
        actor=user.get_username(),
        channel=channel,
        before_deadline=True,
    )
    return _outcome(decision_id, changed, target.value)


def expire(decision_id: int, channel: str = Channel.TIMEOUT) -> Outcome:
    """Apply the register's on-timeout action to a decision past its deadline."""
    decision = RiskDecision.objects.select_related("risk_level").get(pk=decision_id)
    if decision.status != DecisionStatus.PENDING or decision.risk_level is None:
        return Outcome(False, decision.status, f"already {decision.status}")
    if decision.deadline and decision.deadline > timezone.now():
        return Outcome(False, decision.status, "deadline not reached")

    approve_ = decision.risk_level.on_timeout == TimeoutAction.APPROVE
    target = DecisionStatus.APPROVED if approve_ else DecisionStatus.DENIED
    changed = _transition(
        decision_id, target, actor="deadline", channel=channel, timed_out=True
    )
    return _outcome(decision_id, changed, f"{target} on timeout")


def sweep_overdue() -> int:
    """Expire every pending decision whose deadline passed; return how many."""
    now = timezone.now()
    overdue = RiskDecision.objects.filter(
        status=DecisionStatus.PENDING, deadline__lte=now
    ).values_list("pk", flat=True)
    return sum(expire(pk, Channel.SWEEPER).changed for pk in list(overdue))


def _transition(
    decision_id: int,
    target: str,
    *,
    actor: str,
    channel: str,
    before_deadline: bool = False,
    timed_out: bool = False,
    reason: str = "",
) -> bool:
    now = timezone.now()
    with transaction.atomic():
        rows = RiskDecision.objects.filter(
            pk=decision_id, status=DecisionStatus.PENDING
        )
        if before_deadline:
            rows = rows.filter(deadline__gt=now)
        changed = rows.update(
            status=target,
            decided_at=now,
            decided_by=actor,
            decided_via=channel,
            timed_out=timed_out,
        )
        if not changed:
            return False

        decision = RiskDecision.objects.get(pk=decision_id)
        how = "at the deadline" if timed_out else f"by {actor} via {channel}"
        message = f"{target} {how}" + (f": {reason}" if reason else "")
        _audit(decision, target, message, actor, channel)
        if target == DecisionStatus.APPROVED:
            transaction.on_commit(lambda: _launch(decision_id))
        elif target in (DecisionStatus.DENIED, DecisionStatus.REJECTED):
            detail = _closing_detail(target, timed_out, message)
            transaction.on_commit(lambda: _notify_closed(decision_id, target, detail))
    logger.info("Decision %s %s by %s via %s", decision_id, target, actor, channel)
    return True


def _launch(decision_id: int) -> None:
    from automation.tasks import launch_job

    launch_job.delay(decision_id)


def _closing_detail(target: str, timed_out: bool, message: str) -> str:
    if timed_out:
        return "Nobody answered before the deadline; this risk level is denied then."
    return message[:1].upper() + message[1:] + "."


def _notify_closed(decision_id: int, outcome: str, detail: str) -> None:
    from .notify import queue_result

    queue_result(decision_id, outcome, detail)


def withdraw_decisions(finding_id: int, reason: str) -> int:
    """Reject the finding's pending decisions on OpsGuard's behalf, because
    the problem they would fix is gone; return how many."""
    pending = RiskDecision.objects.filter(
        finding_id=finding_id, status=DecisionStatus.PENDING
    ).values_list("pk", flat=True)
    return sum(
        _transition(
            pk,
            DecisionStatus.REJECTED,
            actor="opsguard",
            channel=Channel.SYSTEM,
            reason=reason,
        )
        for pk in list(pending)
    )


def _outcome(decision_id: int, changed: bool, verb: str) -> Outcome:
    status = RiskDecision.objects.values_list("status", flat=True).get(pk=decision_id)
    if changed:
        return Outcome(True, status, f"decision {decision_id} {verb}")
    if status == DecisionStatus.PENDING:
        return Outcome(
            False,
            status,
            f"the deadline of decision {decision_id} has passed; its timeout "
            "action applies within a minute",
        )
    label = DecisionStatus(status).label.lower()
    return Outcome(
        False, status, f"decision {decision_id} was already decided (status: {label})"
    )


def mark_running(decision_id: int) -> bool:
    return _follow(decision_id, DecisionStatus.APPROVED, DecisionStatus.RUNNING)


def mark_finished(decision_id: int, succeeded: bool, message: str) -> bool:
    target = DecisionStatus.SUCCEEDED if succeeded else DecisionStatus.FAILED
    return _follow(
        decision_id,
        DecisionStatus.RUNNING,
        target,
        message,
        extra_from=[DecisionStatus.APPROVED],
    )


def _follow(
    decision_id: int,
    source: str,
    target: str,
    message: str = "",
    extra_from: list[str] | None = None,
) -> bool:
    sources = [source, *(extra_from or [])]
    with transaction.atomic():
        changed = RiskDecision.objects.filter(
            pk=decision_id, status__in=sources
        ).update(status=target)
        if changed:
            decision = RiskDecision.objects.get(pk=decision_id)
            _audit(decision, target, message or target, "executor", Channel.SYSTEM)
    return bool(changed)


def _audit(
    decision: RiskDecision, action: str, message: str, actor: str, channel: str
) -> None:
    record_event(
        decision.incident,
        action=action,
        message=message,
        actor=actor,
        channel=channel,
        decision_id=decision.pk,
    )
