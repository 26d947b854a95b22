"""A real runaway process, found by a real probe, killed by a real playbook."""

import time

import pytest

from approvals.models import DecisionStatus, RiskDecision
from automation.models import JobRun, Verification
from incidents.cycle import run_cycle
from tests.e2e.conftest import reject_others, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def burner_decision(pid: int) -> RiskDecision | None:
    return RiskDecision.objects.filter(
        template__slug="kill_process", parameters__pid=pid
    ).first()


def test_runaway_killed_after_timeout(
    shorten_deadlines, local_host, discord, fast_loop, burner, celery_worker
):
    # Enough cycles for the burner to stay busy over SUSTAIN_SECONDS.
    decision = None
    for _ in range(6):
        run_cycle()
        reject_others(lambda d: d.parameters.get("pid") == burner.pid)
        decision = burner_decision(burner.pid)
        if decision:
            break
        time.sleep(1)
    assert decision is not None, "no kill_process decision for the burner"
    assert decision.risk_level.name == "medium"
    assert decision.status == DecisionStatus.PENDING

    # Nobody answers: medium risk is approved at the deadline, the job runs.
    wait_for(
        lambda: burner_decision(burner.pid).status
        in (DecisionStatus.SUCCEEDED, DecisionStatus.FAILED),
        120,
        "the kill_process decision to finish",
    )
    decision.refresh_from_db()
    job = JobRun.objects.get(decision=decision)

    assert decision.timed_out
    assert decision.decided_via == "timeout"
    assert job.state == "successful", job.log[-2000:]
    assert job.verification == Verification.RESOLVED
    assert decision.status == DecisionStatus.SUCCEEDED
    assert burner.wait(timeout=10) is not None

    texts = [str(message) for message in discord.messages]
    assert any(f"decisions/{decision.pk}/" in text for text in texts)
    assert any("resolved" in text.lower() for text in texts)
