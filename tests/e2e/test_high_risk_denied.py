"""A high-risk decision nobody answers is denied at its deadline."""

import pytest

from approvals.models import DecisionStatus
from automation.models import JobRun, RemediationTemplate
from tests.e2e.conftest import wait_for
from tests.factories import make_decision

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_high_risk_denied_at_deadline(
    shorten_deadlines, local_host, discord, celery_worker
):
    # kill_process on a pid that does not exist, made high risk, so nothing
    # could harm this machine even if the deadline went the wrong way.
    high = shorten_deadlines["high"]
    RemediationTemplate.objects.filter(slug="kill_process").update(risk_level=high)

    decision = make_decision(local_host)
    assert decision.risk_level.name == "high"

    wait_for(
        lambda: decision.__class__.objects.get(pk=decision.pk).status
        == DecisionStatus.DENIED,
        30,
        "the deadline task to deny the reboot",
    )
    decision.refresh_from_db()

    assert decision.timed_out
    assert decision.decided_via == "timeout"
    assert not JobRun.objects.filter(decision=decision).exists()
    wait_for(lambda: discord.messages, 15, "the denial to reach Discord")
    assert "denied" in str(discord.messages[-1]).lower()
