"""Tests for the decision state machine: opening, approving, rejecting, expiry."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import after_task_publish
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.utils import timezone

from approvals import services
from approvals.models import DecisionStatus, RiskDecision
from incidents.engines import Proposal
from incidents.models import AuditEvent, Finding, Host
from opsguard.celery import app
from tests.factories import make_decision, make_finding

KILL = {"pid": 4242, "start_ticks": 1, "comm": "burner"}
EXPIRE_TASK = "approvals.tasks.expire_decision"
LAUNCH_TASK = "automation.tasks.launch_job"


@pytest.fixture
def published() -> Iterator[list[str]]:
    """Record the names of tasks sent to the broker, and purge them afterwards."""
    names: list[str] = []

    def record(sender: str, **kwargs: Any) -> None:
        names.append(sender)

    after_task_publish.connect(record, weak=False)
    try:
        yield names
    finally:
        after_task_publish.disconnect(record)
        # The queued tasks refer to rows of the rolled-back test database.
        app.control.purge()


def user_with(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username)
    permissions = Permission.objects.filter(codename__in=codenames)
    user.user_permissions.add(*permissions)
    # A fresh instance, because has_perm caches the permissions it read.
    return User.objects.get(pk=user.pk)


@pytest.fixture
def operator(register: Any) -> User:
    return user_with("operator", "approve_low", "approve_medium")


def events(decision: RiskDecision) -> list[tuple[str, str, str]]:
    rows = AuditEvent.objects.filter(decision=decision).order_by("id")
    return [(e.action, e.actor, e.channel) for e in rows]


def move_deadline(decision: RiskDecision, seconds: float) -> None:
    deadline = timezone.now() + timedelta(seconds=seconds)
    RiskDecision.objects.filter(pk=decision.pk).update(deadline=deadline)


def status_of(decision: RiskDecision) -> str:
    decision.refresh_from_db()
    return decision.status


# Opening


def test_open_pending_with_register_deadline(register, local_host):
    before = timezone.now()
    decision = make_decision(local_host)
    after = timezone.now()

    medium = register["medium"]
    assert decision.status == DecisionStatus.PENDING
    assert decision.risk_level == medium
    assert decision.template.slug == "kill_process"
    assert decision.parameters == KILL
    assert decision.incident == decision.finding.incident
    timeout = timedelta(seconds=medium.timeout_seconds)
    assert before + timeout <= decision.deadline <= after + timeout


def test_open_audits_proposal(register, local_host):
    decision = make_decision(local_host)

    assert events(decision) == [("proposed", "rules", "system")]
    message = AuditEvent.objects.get(decision=decision).message
    assert message.startswith("kill_process proposed at medium risk; approve at ")


def test_open_deadline_follows_register(register, local_host):
    register["medium"].timeout_seconds = 42
    register["medium"].save()

    decision = make_decision(local_host)

    remaining = (decision.deadline - timezone.now()).total_seconds()
    assert 40 < remaining <= 42


def test_open_without_template_is_manual(register, local_host):
    finding = make_finding(local_host)
    proposal = Proposal(None, {}, "no automatic fix for cpu saturated")

    decision = services.open_decision(finding, proposal)

    assert decision.status == DecisionStatus.MANUAL
    assert decision.template is None
    assert decision.risk_level is None
    assert decision.deadline is None
    assert decision.rationale == "no automatic fix for cpu saturated"
    assert events(decision) == [("manual", "engine", "system")]


@pytest.mark.parametrize(
    ("template", "parameters", "reason"),
    [
        ("rm_rf", {"path": "/"}, "template 'rm_rf' is not an enabled template"),
        ("kill_process", {**KILL, "pid": 1}, "invalid at pid"),
    ],
    ids=["unknown template", "bad parameters"],
)
def test_open_invalid_proposal_is_manual(
    register, local_host, template, parameters, reason
):
    finding = make_finding(local_host)

    decision = services.open_decision(
        finding, Proposal(template, parameters, "engine text")
    )

    assert decision.status == DecisionStatus.MANUAL
    assert decision.template is None
    assert decision.deadline is None
    assert decision.rationale.startswith("engine text; rejected by the catalog: ")
    assert reason in decision.rationale
    assert events(decision) == [("manual", "catalog", "system")]
    assert reason in AuditEvent.objects.get(decision=decision).message


def test_open_on_disabled_host_is_manual(register, local_host):
    finding = make_finding(local_host)
    Host.objects.filter(pk=local_host.pk).update(enabled=False)
    finding = Finding.objects.select_related("host").get(pk=finding.pk)

    decision = services.open_decision(finding, Proposal("kill_process", KILL))

    assert decision.status == DecisionStatus.MANUAL
    assert "not an enabled host" in decision.rationale


# Approving and rejecting


def test_approve_records_actor_and_channel(register, local_host, operator):
    decision = make_decision(local_host)

    outcome = services.approve(decision.pk, operator, "discord")

    assert outcome.changed
    assert outcome.status == DecisionStatus.APPROVED
    decision.refresh_from_db()
    assert decision.decided_by == "operator"
    assert decision.decided_via == "discord"
    assert decision.decided_at is not None
    assert not decision.timed_out
    assert events(decision)[-1] == ("approved", "operator", "discord")


def test_approve_needs_level_permission(register, local_host):
    low_only = user_with("junior", "approve_low")
    decision = make_decision(local_host)

    outcome = services.approve(decision.pk, low_only, "dashboard")

    assert not outcome.changed
    assert "approvals.approve_medium" in outcome.message
    assert status_of(decision) == DecisionStatus.PENDING
    assert len(events(decision)) == 1


def test_approve_with_custom_level_permission(register, local_host):
    # The permission comes from the level's name, so new levels work too.
    register["medium"].name = "urgent"
    register["medium"].save()
    urgent = user_with("oncall", "approve_urgent")
    decision = make_decision(local_host)

    assert services.approve(decision.pk, urgent, "dashboard").changed


def test_approve_manual_decision_no_change(register, local_host, operator):
    finding = make_finding(local_host)
    decision = services.open_decision(finding, Proposal(None, {}, "by hand"))

    outcome = services.approve(decision.pk, operator, "dashboard")

    assert not outcome.changed
    assert "needs manual intervention" in outcome.message


def test_approve_twice_changes_once(register, local_host, operator):
    decision = make_decision(local_host)
    services.approve(decision.pk, operator, "dashboard")

    outcome = services.approve(decision.pk, operator, "dashboard")

    assert not outcome.changed
    expected = f"decision {decision.pk} was already decided (status: approved)"
    assert outcome.message == expected
    assert [e[0] for e in events(decision)] == ["proposed", "approved"]


def test_approve_after_deadline_no_change(register, local_host, operator):
    decision = make_decision(local_host)
    move_deadline(decision, -1)

    outcome = services.approve(decision.pk, operator, "dashboard")

    assert not outcome.changed
    assert "has passed" in outcome.message
    assert status_of(decision) == DecisionStatus.PENDING


def test_reject_records_actor_and_channel(register, local_host, operator):
    decision = make_decision(local_host)

    outcome = services.reject(decision.pk, operator, "dashboard")

    assert outcome.changed
    assert outcome.status == DecisionStatus.REJECTED
    assert events(decision)[-1] == ("rejected", "operator", "dashboard")


def test_reject_needs_level_permission(register, local_host):
    nobody = user_with("viewer")
    decision = make_decision(local_host)

    outcome = services.reject(decision.pk, nobody, "dashboard")

    assert not outcome.changed
    assert "approvals.approve_medium" in outcome.message
    assert status_of(decision) == DecisionStatus.PENDING


def test_approve_after_reject_no_change(register, local_host, operator):
    decision = make_decision(local_host)
    services.reject(decision.pk, operator, "dashboard")

    outcome = services.approve(decision.pk, operator, "dashboard")

    assert not outcome.changed
    assert outcome.status == DecisionStatus.REJECTED


# Expiry


def test_expire_before_deadline_does_nothing(register, local_host):
    decision = make_decision(local_host)

    outcome = services.expire(decision.pk)

    assert not outcome.changed
    assert outcome.message == "deadline not reached"
    assert status_of(decision) == DecisionStatus.PENDING
    assert len(events(decision)) == 1


def test_expire_applies_approve_action(register, local_host):
    decision = make_decision(local_host)
    move_deadline(decision, -1)

    outcome = services.expire(decision.pk)

    assert outcome.changed
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED
    assert decision.timed_out
    assert decision.decided_by == "deadline"
    assert events(decision)[-1] == ("approved", "deadline", "timeout")


def test_expire_applies_deny_action(register, local_host):
    decision = make_decision(local_host, "reboot", {"reason": "test"})
    RiskDecision.objects.filter(pk=decision.pk).update(risk_level=register["high"])
    move_deadline(decision, -1)

    outcome = services.expire(decision.pk)

    assert outcome.status == DecisionStatus.DENIED
    assert events(decision)[-1] == ("denied", "deadline", "timeout")


def test_expire_after_human_does_nothing(register, local_host, operator):
    decision = make_decision(local_host)
    services.reject(decision.pk, operator, "dashboard")
    move_deadline(decision, -1)

    outcome = services.expire(decision.pk)

    assert not outcome.changed
    assert outcome.message == "already rejected"


def test_sweep_expires_only_overdue(register, local_host):
    overdue = make_decision(local_host)
    waiting = make_decision(local_host)
    move_deadline(overdue, -1)

    assert services.sweep_overdue() == 1
    assert status_of(overdue) == DecisionStatus.APPROVED
    assert status_of(waiting) == DecisionStatus.PENDING
    assert events(overdue)[-1] == ("approved", "deadline", "sweeper")


# Deadline task and launch, run through on_commit


def test_deadline_task_sent_on_commit(
    register, local_host, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_decision(local_host)

    assert published == [EXPIRE_TASK]


def test_deadline_task_skipped_past_half_visibility(
    register,
    local_host,
    published,
    settings,
    django_capture_on_commit_callbacks,
):
    # Medium risk waits 900 s, longer than half of 1200 s.
    settings.CELERY_VISIBILITY_TIMEOUT = 1200

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decision = make_decision(local_host)

    assert len(callbacks) == 1
    assert published == []
    assert status_of(decision) == DecisionStatus.PENDING


def test_deadline_task_within_half_visibility(
    register,
    local_host,
    published,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CELERY_VISIBILITY_TIMEOUT = 1900

    with django_capture_on_commit_callbacks(execute=True):
        make_decision(local_host)

    assert published == [EXPIRE_TASK]


def test_approval_launches_on_commit(
    register, local_host, operator, published, django_capture_on_commit_callbacks
):
    decision = make_decision(local_host)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.approve(decision.pk, operator, "dashboard")

    assert len(callbacks) == 1
    assert published == [LAUNCH_TASK]


def test_rolled_back_approval_never_launches(
    register, local_host, operator, published, django_capture_on_commit_callbacks
):
    decision = make_decision(local_host)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                services.approve(decision.pk, operator, "dashboard")
                raise RuntimeError("the caller failed after approving")

    assert callbacks == []
    assert published == []
    assert status_of(decision) == DecisionStatus.PENDING
    assert [e[0] for e in events(decision)] == ["proposed"]
