"""Tests for recording findings: deduplication, incidents and resolution."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents.models import (
    AuditEvent,
    Finding,
    FindingKind,
    FindingStatus,
    HealthSnapshot,
    Host,
    Incident,
    Severity,
)
from incidents.services import (
    measure_finding,
    record_findings,
    resolve_finding,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings: Any) -> None:
    settings.DISK_THRESHOLD_PERCENT = 90.0
    settings.DEDUP_HOURS = 8.0
    settings.SUSTAIN_SECONDS = 300


@pytest.fixture
def host(db: None) -> Host:
    return Host.objects.create(name="web-01", collector="local")


def disk_snapshot(host: Host, used_pct: float, mount: str = "/var") -> HealthSnapshot:
    filesystem = {
        "source": "/dev/sda2",
        "fstype": "ext4",
        "size_kb": 1000,
        "used_kb": int(used_pct * 10),
        "avail_kb": 1000 - int(used_pct * 10),
        "used_pct": used_pct,
        "target": mount,
    }
    return HealthSnapshot.objects.create(
        host=host,
        taken_at=timezone.now(),
        report={"filesystems": [filesystem], "top_cpu": [], "services": []},
    )


def raised_events(incident: Incident) -> int:
    return AuditEvent.objects.filter(incident=incident, action="finding_raised").count()


def test_first_finding_opens_incident(host):
    [finding] = record_findings(disk_snapshot(host, 95.0))

    assert finding.raised
    assert finding.kind == FindingKind.DISK_FULL
    assert finding.subject == "/var"
    assert finding.status == FindingStatus.OPEN
    assert finding.incident is not None
    assert finding.incident.status == Incident.Status.OPEN
    actions = list(finding.incident.events.values_list("action", flat=True))
    assert actions == ["incident_opened", "finding_raised"]


def test_repeat_within_window_deduplicated(host):
    [first] = record_findings(disk_snapshot(host, 95.0))

    raised = record_findings(disk_snapshot(host, 95.5))

    assert raised == []
    repeat = Finding.objects.exclude(pk=first.pk).get()
    assert not repeat.raised
    assert repeat.fingerprint == first.fingerprint
    assert repeat.incident_id == first.incident_id
    assert raised_events(first.incident) == 1


def test_two_mounts_share_one_incident(host):
    snapshot = disk_snapshot(host, 95.0)
    snapshot.report["filesystems"].append(
        {**snapshot.report["filesystems"][0], "target": "/srv", "used_pct": 93.0}
    )
    snapshot.save()

    raised = record_findings(snapshot)

    assert [f.subject for f in raised] == ["/var", "/srv"]
    assert raised[0].incident_id == raised[1].incident_id
    assert Incident.objects.count() == 1


def test_severity_rise_raised_again(host):
    [first] = record_findings(disk_snapshot(host, 95.0))

    [second] = record_findings(disk_snapshot(host, 99.0))

    assert second.raised
    assert second.severity == Severity.CRITICAL
    assert first.severity == Severity.WARNING
    assert second.incident_id == first.incident_id


def test_severity_fall_stays_deduplicated(host):
    record_findings(disk_snapshot(host, 99.0))

    assert record_findings(disk_snapshot(host, 95.0)) == []


def test_resolved_finding_raised_as_new(host):
    [first] = record_findings(disk_snapshot(host, 95.0))
    resolve_finding(first)

    [second] = record_findings(disk_snapshot(host, 95.0))

    assert second.raised
    assert second.incident_id != first.incident_id
    assert second.incident.status == Incident.Status.OPEN


def test_old_finding_raised_again(host):
    [first] = record_findings(disk_snapshot(host, 95.0))
    nine_hours_ago = timezone.now() - timedelta(hours=9)
    Finding.objects.filter(pk=first.pk).update(created_at=nine_hours_ago)

    [second] = record_findings(disk_snapshot(host, 95.0))

    assert second.raised
    assert second.incident_id == first.incident_id


def test_dedup_window_follows_setting(host, settings):
    settings.DEDUP_HOURS = 0.5
    [first] = record_findings(disk_snapshot(host, 95.0))
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Finding.objects.filter(pk=first.pk).update(created_at=an_hour_ago)

    assert len(record_findings(disk_snapshot(host, 95.0))) == 1


def test_same_subject_other_host_not_deduplicated(host):
    other = Host.objects.create(name="web-02", collector="local")
    record_findings(disk_snapshot(host, 95.0))

    [finding] = record_findings(disk_snapshot(other, 95.0))

    assert finding.raised
    assert finding.incident.host == other


def unreachable_at(host: Host, seconds_ago: float) -> HealthSnapshot:
    taken_at = timezone.now() - timedelta(seconds=seconds_ago)
    return HealthSnapshot.objects.create(
        host=host, taken_at=taken_at, reachable=False, error="timed out"
    )


def test_one_failed_probe_raises_nothing(host):
    snapshot = unreachable_at(host, 0)

    assert record_findings(snapshot) == []


def test_sustained_unreachable_raises_finding(host):
    unreachable_at(host, 360)
    unreachable_at(host, 180)
    snapshot = unreachable_at(host, 0)

    [finding] = record_findings(snapshot)

    assert finding.kind == FindingKind.HOST_UNREACHABLE
    assert finding.evidence == {"error": "timed out"}


def test_reachable_probe_breaks_outage(host):
    unreachable_at(host, 360)
    HealthSnapshot.objects.create(
        host=host, taken_at=timezone.now() - timedelta(seconds=200), reachable=True
    )
    unreachable_at(host, 180)
    snapshot = unreachable_at(host, 0)

    assert record_findings(snapshot) == []


def test_resolve_closes_repeats_and_incident(host):
    [first] = record_findings(disk_snapshot(host, 95.0))
    record_findings(disk_snapshot(host, 95.0))

    resolve_finding(first)

    statuses = set(Finding.objects.values_list("status", flat=True))
    assert statuses == {FindingStatus.RESOLVED}
    incident = Incident.objects.get(pk=first.incident_id)
    assert incident.status == Incident.Status.RESOLVED
    assert incident.resolved_at is not None
    assert incident.events.filter(action="incident_resolved").count() == 1


def test_resolve_keeps_incident_with_open_findings(host):
    snapshot = disk_snapshot(host, 95.0)
    snapshot.report["filesystems"].append(
        {**snapshot.report["filesystems"][0], "target": "/srv"}
    )
    snapshot.save()
    var, srv = record_findings(snapshot)

    resolve_finding(var)

    srv.refresh_from_db()
    assert srv.status == FindingStatus.OPEN
    assert srv.incident.status == Incident.Status.OPEN


def test_resolve_twice_logs_once(host):
    [finding] = record_findings(disk_snapshot(host, 95.0))

    resolve_finding(finding)
    resolve_finding(finding)

    assert finding.incident.events.filter(action="incident_resolved").count() == 1


def test_measure_finding_on_new_snapshot(host):
    [finding] = record_findings(disk_snapshot(host, 95.0))

    cleaned = measure_finding(finding, disk_snapshot(host, 40.0))

    assert not cleaned.present
    assert cleaned.value == 40.0


def test_measure_finding_unreachable_is_present(host):
    [finding] = record_findings(disk_snapshot(host, 95.0))
    unreachable = HealthSnapshot.objects.create(
        host=host, taken_at=timezone.now(), reachable=False, error="timed out"
    )

    result = measure_finding(finding, unreachable)

    assert result.present
    assert "timed out" in result.detail
