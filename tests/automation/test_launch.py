"""The catalog checks a decision again right before its job starts."""

import pytest
from django.contrib.auth.models import User

from approvals import services
from approvals.models import DecisionStatus, RiskDecision
from automation.models import JobRun, JobState
from automation.services import launch
from tests.factories import make_decision

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(register, local_host):
    admin = User.objects.create_superuser("root", password="x")
    decision = make_decision(local_host)
    services.approve(decision.pk, admin, "dashboard")
    return decision


def test_edited_parameters_refused_at_launch(approved):
    RiskDecision.objects.filter(pk=approved.pk).update(
        parameters={"pid": 4242, "start_ticks": 1, "comm": "x", "extra": "y"}
    )

    job = launch(approved.pk)

    approved.refresh_from_db()
    assert job is not None
    assert job.state == JobState.ERROR
    assert "rejected by the catalog at launch" in job.last_error
    assert job.external_id == ""
    assert approved.status == DecisionStatus.FAILED


def test_edited_risk_refused_at_launch(approved, register):
    RiskDecision.objects.filter(pk=approved.pk).update(risk_level=register["low"])

    job = launch(approved.pk)

    assert job is not None
    assert "risk level is now medium" in job.last_error
    assert JobRun.objects.filter(decision=approved).count() == 1
