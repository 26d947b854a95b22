"""A problem that goes away by itself closes its finding and withdraws the
fix that was waiting for approval."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import DecisionStatus
from approvals.services import withdraw_decisions
from incidents.models import (
    AuditEvent,
    Finding,
    FindingStatus,
    HealthSnapshot,
    Incident,
)
from incidents.services import clear_findings
from tests.factories import make_decision

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_sustain(settings):
    settings.SUSTAIN_SECONDS = 0


def snapshot(host, top_cpu):
    return HealthSnapshot.objects.create(
        host=host, taken_at=timezone.now(), report={"top_cpu": top_cpu}
    )


def test_gone_process_clears_finding(register, local_host):
    decision = make_decision(local_host)

    cleared = clear_findings(snapshot(local_host, []))

    decision.finding.refresh_from_db()
    assert cleared == [decision.finding]
    assert decision.finding.status == FindingStatus.RESOLVED
    assert decision.incident.events.filter(action="finding_cleared").exists()


def test_cleared_incident_is_resolved(register, local_host):
    decision = make_decision(local_host)

    clear_findings(snapshot(local_host, []))

    incident = Incident.objects.get(pk=decision.incident_id)
    assert incident.status == Incident.Status.RESOLVED


def test_busy_process_stays_open(register, local_host):
    decision = make_decision(local_host)
    busy = {"pid": 4242, "start_ticks": 1, "comm": "burner", "cpu_pct": 99.0}

    cleared = clear_findings(snapshot(local_host, [busy]))

    decision.finding.refresh_from_db()
    assert cleared == []
    assert decision.finding.status == FindingStatus.OPEN


def test_unreachable_snapshot_clears_nothing(register, local_host):
    make_decision(local_host)
    failed = HealthSnapshot.objects.create(
        host=local_host, taken_at=timezone.now(), reachable=False, error="timeout"
    )

    assert clear_findings(failed) == []


def test_withdraw_rejects_pending_decision(register, local_host):
    decision = make_decision(local_host)

    count = withdraw_decisions(decision.finding_id, "the problem cleared by itself")

    decision.refresh_from_db()
    event = AuditEvent.objects.get(decision=decision, action="rejected")
    assert count == 1
    assert decision.status == DecisionStatus.REJECTED
    assert decision.decided_by == "opsguard"
    assert "the problem cleared by itself" in event.message


def test_withdraw_leaves_decided_alone(register, local_host):
    decision = make_decision(local_host, "reboot", {"reason": "test"})
    decision.status = DecisionStatus.RUNNING
    decision.save()

    assert withdraw_decisions(decision.finding_id, "gone") == 0


def test_one_low_reading_keeps_finding(register, local_host, settings):
    # A busy host can push a runaway process under the threshold for one
    # reading; the finding stays until it is gone for SUSTAIN_SECONDS.
    settings.SUSTAIN_SECONDS = 300
    decision = make_decision(local_host)
    busy = {"pid": 4242, "start_ticks": 1, "comm": "burner", "cpu_pct": 99.0}
    earlier = snapshot(local_host, [busy])
    HealthSnapshot.objects.filter(pk=earlier.pk).update(
        taken_at=timezone.now() - timedelta(seconds=120)
    )

    cleared = clear_findings(snapshot(local_host, []))

    assert cleared == []
    assert withdraw_count(decision) == 0


def test_absent_over_sustain_clears(register, local_host, settings):
    settings.SUSTAIN_SECONDS = 300
    decision = make_decision(local_host)
    for seconds in (400, 200):
        old = snapshot(local_host, [])
        HealthSnapshot.objects.filter(pk=old.pk).update(
            taken_at=timezone.now() - timedelta(seconds=seconds)
        )
    Finding.objects.filter(pk=decision.finding_id).update(
        created_at=timezone.now() - timedelta(seconds=600)
    )

    cleared = clear_findings(snapshot(local_host, []))

    assert [f.pk for f in cleared] == [decision.finding_id]


def withdraw_count(decision):
    return AuditEvent.objects.filter(decision=decision, action="rejected").count()
