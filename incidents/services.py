"""Service functions of the incidents app: probe hosts and record findings."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import detectors
from .collectors.base import CollectorError, get_collector
from .models import (
    AuditEvent,
    CollectorKind,
    Finding,
    FindingStatus,
    HealthSnapshot,
    Host,
    Incident,
)
from .probe.parser import ProbeReport

logger = logging.getLogger(__name__)

TOP_PROCESSES = 10


@dataclass(frozen=True)
class ProbeTarget:
    name: str
    address: str
    critical_services: list[str]


def snapshot_report(report: ProbeReport, own: set[int] | None = None) -> dict[str, Any]:
    """Return the stored form of a probe report: every field but the full
    process list, which is cut to the top consumers. Processes whose pid is in
    `own` are OpsGuard's and are marked so."""
    own = own or set()
    data = report.to_dict()
    data.pop("processes", None)
    data["mem_used_pct"] = report.mem_used_pct
    data["top_cpu"] = [_process(p, own) for p in report.top_cpu(TOP_PROCESSES)]
    data["top_memory"] = [_process(p, own) for p in report.top_memory(TOP_PROCESSES)]
    return data


def _process(process: Any, own: set[int]) -> dict[str, Any]:
    return {
        "pid": process.pid,
        "ppid": process.ppid,
        "comm": process.comm,
        "cpu_pct": round(process.cpu_pct, 1),
        "rss_kb": process.rss_kb,
        "start_ticks": process.start_ticks,
        "opsguard": process.pid in own,
    }


def own_processes(report: ProbeReport) -> set[int]:
    """Return the pids of OpsGuard itself on this machine: this process and
    every descendant of the runall supervisor (web, worker, beat, jobs)."""
    own = {os.getpid()}
    root = os.environ.get("OPSGUARD_SUPERVISOR_PID", "")
    if not root.isdigit():
        return own
    children: dict[int, list[int]] = {}
    for process in report.processes:
        children.setdefault(process.ppid, []).append(process.pid)
    tree: set[int] = set()
    pending = [int(root)]
    while pending:
        pid = pending.pop()
        if pid in tree:
            continue
        tree.add(pid)
        pending.extend(children.get(pid, []))
    return own | tree


def _collector_options(host: Host) -> dict[str, Any]:
    return {
        "sample_seconds": settings.PROBE_SAMPLE_SECONDS,
        "timeout": settings.PROBE_TIMEOUT,
    }


def _previous_restarts(host: Host) -> dict[str, int | None]:
    """Return each service's restart count in the host's last snapshot, so a
    service that crashed and came back between two probes is still found."""
    last = (
        HealthSnapshot.objects.filter(host=host, reachable=True).only("report").first()
    )
    if last is None:
        return {}
    services = last.report.get("services", [])
    return {s["name"]: s.get("n_restarts") for s in services}


def probe_host(host: Host) -> HealthSnapshot | None:
    """Probe a host once and store the snapshot, reachable or not.

    Return None, with the reason in the host's last_error, when the host's
    configuration names no usable collector: that is no news about the host.
    """
    now = timezone.now()
    try:
        collector = get_collector(host.collector, **_collector_options(host))
    except ValueError as error:
        logger.error("Host %s is not probed: %s", host.name, error)
        Host.objects.filter(pk=host.pk).update(last_error=str(error))
        return None

    try:
        target = ProbeTarget(host.name, host.address, host.monitored_services)
        report = collector.probe(target, _previous_restarts(host))
    except (CollectorError, OSError) as error:
        logger.warning("Probe of host %s failed: %s", host.name, error)
        Host.objects.filter(pk=host.pk).update(last_error=str(error))
        return HealthSnapshot.objects.create(
            host=host, taken_at=now, reachable=False, error=str(error)
        )

    local = host.collector == CollectorKind.LOCAL
    data = snapshot_report(report, own_processes(report) if local else None)
    Host.objects.filter(pk=host.pk).update(last_seen_at=now, last_error="")
    disks = [fs["used_pct"] for fs in data.get("filesystems", [])]
    pressure = data.get("io_pressure") or {}
    return HealthSnapshot.objects.create(
        host=host,
        taken_at=now,
        reachable=True,
        cpu_busy_pct=report.cpu_busy_pct,
        mem_used_pct=report.mem_used_pct,
        max_disk_pct=max(disks) if disks else None,
        io_pressure_avg60=(pressure.get("some") or {}).get("avg60"),
        systemd_available=report.systemd_available,
        report=data,
    )


def _recent(snapshot: HealthSnapshot) -> list[HealthSnapshot]:
    """Return the host's snapshots that cover SUSTAIN_SECONDS up to this one,
    plus one cycle of slack, newest first."""
    since = snapshot.taken_at - timedelta(
        seconds=settings.SUSTAIN_SECONDS + 2 * settings.COLLECT_INTERVAL
    )
    return list(
        HealthSnapshot.objects.filter(
            host_id=snapshot.host_id,
            taken_at__gte=since,
            taken_at__lte=snapshot.taken_at,
        ).only("taken_at", "reachable", "report")
    )


def _unreachable_sustained(recent: list[HealthSnapshot]) -> bool:
    newest = recent[0].taken_at
    for row in recent:
        if row.reachable:
            return False
        if (newest - row.taken_at).total_seconds() >= settings.SUSTAIN_SECONDS:
            return True
    return False


def detect(snapshot: HealthSnapshot) -> list[detectors.Detection]:
    recent = _recent(snapshot)
    if not snapshot.reachable:
        # One failed probe may be a network blip; only a host that stays
        # unreachable for SUSTAIN_SECONDS is a finding.
        if not _unreachable_sustained(recent):
            return []
        return [detectors.unreachable(snapshot.host.name, snapshot.error)]
    # An unreachable snapshot has an empty report, which breaks every
    # sustained run, so readings on both sides of an outage do not add up.
    history = [detectors.SnapshotView(row.taken_at, row.report) for row in recent]
    return detectors.detect(history)


def record_findings(snapshot: HealthSnapshot) -> list[Finding]:
    """Store the snapshot's findings; return the ones raised, not deduplicated."""
    raised = []
    for detection in detect(snapshot):
        finding = _record(snapshot, detection)
        if finding.raised:
            raised.append(finding)
    return raised


@transaction.atomic
def _record(snapshot: HealthSnapshot, detection: detectors.Detection) -> Finding:
    host = snapshot.host
    key = detectors.fingerprint(host.pk, detection.kind, detection.subject)

    # NOTE: two cycles running at once could both miss each other's finding
    # and raise it twice. Beat drops a cycle that could not start within its
    # interval, which keeps cycles from overlapping on one worker pool.
    since = snapshot.taken_at - timedelta(hours=settings.DEDUP_HOURS)
    earlier = (
        Finding.objects.filter(
            fingerprint=key,
            raised=True,
            status=FindingStatus.OPEN,
            created_at__gte=since,
        )
        .order_by("-created_at")
        .first()
    )
    repeat = earlier is not None and detection.severity <= earlier.severity
    incident = earlier.incident if repeat and earlier else None

    finding = Finding.objects.create(
        host=host,
        kind=detection.kind,
        subject=detection.subject,
        fingerprint=key,
        severity=detection.severity,
        summary=detection.summary[:500],
        evidence=detection.evidence,
        snapshot=snapshot,
        incident=incident or _open_incident(host, detection.summary),
        raised=not repeat,
    )
    if finding.raised:
        record_event(
            finding.incident,
            action="finding_raised",
            message=finding.summary,
            actor="detector",
        )
    return finding


def _open_incident(host: Host, first_problem: str) -> Incident:
    incident = (
        Incident.objects.select_for_update()
        .filter(host=host, status=Incident.Status.OPEN)
        .order_by("-opened_at")
        .first()
    )
    if incident is None:
        title = f"{host.name}: {first_problem}"[:300]
        incident = Incident.objects.create(host=host, title=title)
        record_event(incident, action="incident_opened", actor="detector")
    return incident


def record_event(
    incident: Incident | None,
    *,
    action: str,
    message: str = "",
    actor: str = "opsguard",
    channel: str = AuditEvent.Channel.SYSTEM,
    decision_id: int | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        incident=incident,
        decision_id=decision_id,
        actor=actor,
        channel=channel,
        action=action,
        message=message,
    )


def measure_finding(
    finding: Finding, snapshot: HealthSnapshot
) -> detectors.Measurement:
    if not snapshot.reachable:
        # An unreachable host proves nothing either way about its disks or
        # processes, and an unreachable-host finding is still present.
        detail = f"probe failed: {snapshot.error}"
        return detectors.Measurement(present=True, value=None, detail=detail)
    return detectors.measure(
        finding.kind, finding.subject, finding.evidence, snapshot.report
    )


@transaction.atomic
def resolve_finding(
    finding: Finding, actor: str = "verifier", message: str = ""
) -> None:
    """Mark a finding and its deduplicated repeats resolved, and close the
    incident once nothing in it is open."""
    now = timezone.now()
    Finding.objects.filter(
        fingerprint=finding.fingerprint, status=FindingStatus.OPEN
    ).update(status=FindingStatus.RESOLVED, resolved_at=now)
    incident = finding.incident
    if incident is None:
        return
    if message:
        record_event(incident, action="finding_cleared", message=message, actor=actor)
    if incident.findings.filter(status=FindingStatus.OPEN).exists():
        return
    updated = Incident.objects.filter(
        pk=incident.pk, status=Incident.Status.OPEN
    ).update(status=Incident.Status.RESOLVED, resolved_at=now)
    if updated:
        record_event(incident, action="incident_resolved", actor=actor)


def clear_findings(snapshot: HealthSnapshot) -> list[Finding]:
    """Resolve the host's open findings whose condition has stayed away for
    SUSTAIN_SECONDS, so a problem that went away by itself does not stay
    open, while one reading under a threshold does not close it."""
    if not snapshot.reachable:
        return []
    cleared = []
    recent = _recent(snapshot)
    open_findings = Finding.objects.filter(
        host_id=snapshot.host_id, raised=True, status=FindingStatus.OPEN
    ).select_related("incident")
    for finding in open_findings:
        detail = _absent_detail(finding, recent)
        if detail is None:
            continue
        message = f"{finding.summary}: cleared ({detail})"
        resolve_finding(finding, actor="detector", message=message)
        cleared.append(finding)
    return cleared


def _absent_detail(finding: Finding, recent: list[HealthSnapshot]) -> str | None:
    """Return the newest measurement's detail when the finding's condition is
    absent from every snapshot over SUSTAIN_SECONDS, else None."""
    newest = recent[0].taken_at
    detail = None
    for row in recent:
        measurement = measure_finding(finding, row)
        if measurement.present:
            return None
        detail = detail or measurement.detail
        if (newest - row.taken_at).total_seconds() >= settings.SUSTAIN_SECONDS:
            return detail
        if row.taken_at <= finding.created_at:
            # Older snapshots predate the finding, so they cannot show it cleared.
            return None
    return None


def prune_snapshots() -> int:
    """Delete snapshots older than SNAPSHOT_RETENTION_DAYS; return how many.

    Raised findings keep their evidence, and their link to a deleted snapshot
    is cleared; repeat sightings older than that are deleted too.
    """
    cutoff = timezone.now() - timedelta(days=settings.SNAPSHOT_RETENTION_DAYS)
    deleted, _ = HealthSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    # Repeat sightings only count how long a problem lasted; the raised
    # finding keeps the evidence.
    Finding.objects.filter(raised=False, created_at__lt=cutoff).delete()
    return deleted
