"""Races between humans, deadline tasks and retried tasks, on real PostgreSQL
connections: each ends with one final state and at most one job."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from approvals import services
from approvals.models import DecisionStatus, RiskDecision
from automation import services as automation
from automation.models import JobRun
from incidents.models import AuditEvent
from tests.factories import make_decision

pytestmark = pytest.mark.django_db(transaction=True)

TRANSITIONS = ["approved", "rejected", "denied"]


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread and connection, released together."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def admin(db: None) -> User:
    return User.objects.create_superuser("root", password="x")


def transition_events(decision: RiskDecision) -> int:
    return AuditEvent.objects.filter(decision=decision, action__in=TRANSITIONS).count()


def test_double_click_approves_once(register, local_host, admin):
    decision = make_decision(local_host)

    outcomes = run_together(
        *[lambda: services.approve(decision.pk, admin, "dashboard")] * 4
    )

    assert sum(o.changed for o in outcomes) == 1
    assert {o.status for o in outcomes} == {"approved"}
    assert transition_events(decision) == 1


def test_approve_racing_deadline_ends_once(shorten_deadlines, local_host, admin):
    # High risk is denied on timeout, so the final state shows which call won.
    high = shorten_deadlines["high"]
    for _ in range(10):
        decision = make_decision(local_host)
        deadline = timezone.now() + timedelta(milliseconds=5)
        RiskDecision.objects.filter(pk=decision.pk).update(
            risk_level=high, deadline=deadline
        )

        pk = decision.pk
        outcomes = run_together(
            lambda: services.approve(pk, admin, "dashboard"),  # noqa: B023
            lambda: services.expire(pk),  # noqa: B023
            lambda: services.expire(pk),  # noqa: B023
        )
        time.sleep(0.01)
        services.sweep_overdue()

        decision.refresh_from_db()
        assert decision.status in (DecisionStatus.APPROVED, DecisionStatus.DENIED)
        assert transition_events(decision) == 1
        assert sum(o.changed for o in outcomes) <= 1


def test_timeout_delivered_twice_changes_once(register, local_host):
    decision = make_decision(local_host)
    past = timezone.now() - timedelta(seconds=1)
    RiskDecision.objects.filter(pk=decision.pk).update(deadline=past)

    outcomes = run_together(
        lambda: services.expire(decision.pk), lambda: services.expire(decision.pk)
    )

    decision.refresh_from_db()
    assert sum(o.changed for o in outcomes) == 1
    assert decision.status == DecisionStatus.APPROVED
    assert decision.timed_out
    assert transition_events(decision) == 1


def test_sweeper_and_deadline_task_change_once(shorten_deadlines, local_host):
    decision = make_decision(local_host, "reboot", {"reason": "test"})
    high = shorten_deadlines["high"]
    past = timezone.now() - timedelta(seconds=1)
    RiskDecision.objects.filter(pk=decision.pk).update(risk_level=high, deadline=past)

    outcomes = run_together(
        services.sweep_overdue, lambda: services.expire(decision.pk).changed
    )

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.DENIED
    assert sum(int(o) for o in outcomes) == 1
    assert transition_events(decision) == 1


def test_launch_twice_starts_one_job(register, local_host, admin):
    # pid 4242 with a made-up start time: the playbook finds no such process
    # (or a different one) and kills nothing.
    decision = make_decision(local_host)
    services.approve(decision.pk, admin, "dashboard")

    jobs = run_together(
        lambda: automation.launch(decision.pk), lambda: automation.launch(decision.pk)
    )

    assert JobRun.objects.filter(decision=decision).count() == 1
    assert sum(job is not None for job in jobs) == 1


def test_click_after_deadline_is_refused(register, local_host, admin):
    decision = make_decision(local_host)
    past = timezone.now() - timedelta(seconds=1)
    RiskDecision.objects.filter(pk=decision.pk).update(deadline=past)

    outcome = services.approve(decision.pk, admin, "dashboard")

    decision.refresh_from_db()
    assert not outcome.changed
    assert decision.status == DecisionStatus.PENDING
