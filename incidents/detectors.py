"""Rules that turn a host's snapshots into findings.

Detection reads the stored snapshot report (a dict), so the same rules serve
fresh probes and verification probes. Each rule can also measure one finding's
subject again, which is how verification separates resolved from still present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from .models import FindingKind, Severity

Report = dict[str, Any]


@dataclass(frozen=True)
class Detection:
    kind: str
    subject: str
    severity: int
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measurement:
    """The current state of one finding's subject."""

    present: bool
    value: float | None
    detail: str


@dataclass(frozen=True)
class SnapshotView:
    taken_at: datetime
    report: Report


def fingerprint(host_id: int, kind: str, subject: str) -> str:
    return hashlib.sha256(f"{host_id}\0{kind}\0{subject}".encode()).hexdigest()


def detect(history: Sequence[SnapshotView]) -> list[Detection]:
    """Return the findings in the newest snapshot; `history` is newest first."""
    report = history[0].report
    detections: list[Detection] = []
    detections += _disk_full(report)
    detections += _sustained_host_usage(history)
    detections += _runaway_processes(history)
    detections += _services(report)
    detections += _failed_units(report)
    return detections


def unreachable(host_name: str, error: str) -> Detection:
    return Detection(
        kind=FindingKind.HOST_UNREACHABLE,
        subject="",
        severity=Severity.CRITICAL,
        summary=f"{host_name} did not answer the probe",
        evidence={"error": error},
    )


def measure(
    kind: str, subject: str, evidence: dict[str, Any], report: Report
) -> Measurement:
    """Measure a finding's subject in a new report."""
    if kind == FindingKind.DISK_FULL:
        return _measure_disk(subject, report)
    if kind == FindingKind.RUNAWAY_PROCESS:
        return _measure_process(evidence, report)
    if kind in (FindingKind.SERVICE_DOWN, FindingKind.UNIT_FAILED):
        return _measure_service(kind, subject, report)
    if kind == FindingKind.CPU_HIGH:
        return _measure_percent(
            report.get("cpu_busy_pct"), settings.CPU_THRESHOLD_PERCENT
        )
    if kind == FindingKind.RAM_HIGH:
        return _measure_percent(
            report.get("mem_used_pct"), settings.RAM_THRESHOLD_PERCENT
        )
    if kind == FindingKind.HOST_UNREACHABLE:
        return Measurement(present=False, value=None, detail="host answered the probe")
    return Measurement(present=True, value=None, detail=f"no measure for {kind}")


# Disk


def _disk_full(report: Report) -> list[Detection]:
    threshold = settings.DISK_THRESHOLD_PERCENT
    found = []
    for fs in report.get("filesystems", []):
        used = float(fs["used_pct"])
        if used < threshold:
            continue
        severity = Severity.CRITICAL if used >= 98 else Severity.WARNING
        found.append(
            Detection(
                kind=FindingKind.DISK_FULL,
                subject=fs["target"],
                severity=severity,
                summary=f"{fs['target']} is {used:.0f} % full",
                evidence={"filesystem": fs, "threshold": threshold},
            )
        )
    return found


def _measure_disk(mount: str, report: Report) -> Measurement:
    for fs in report.get("filesystems", []):
        if fs["target"] == mount:
            used = float(fs["used_pct"])
            present = used >= settings.DISK_THRESHOLD_PERCENT
            return Measurement(present, used, f"{mount} is {used:.1f} % full")
    return Measurement(False, None, f"{mount} is no longer mounted")


# Host CPU and memory, sustained over SUSTAIN_SECONDS


def _sustained(history: Sequence[SnapshotView], key: str, threshold: float) -> bool:
    """Return whether `key` stayed >= threshold for SUSTAIN_SECONDS up to now."""
    newest = history[0].taken_at
    for view in history:
        value = view.report.get(key)
        if value is None or value < threshold:
            return False
        if (newest - view.taken_at).total_seconds() >= settings.SUSTAIN_SECONDS:
            return True
    return False


def _sustained_host_usage(history: Sequence[SnapshotView]) -> list[Detection]:
    found = []
    report = history[0].report
    checks = [
        (FindingKind.CPU_HIGH, "cpu_busy_pct", settings.CPU_THRESHOLD_PERCENT, "CPU"),
        (FindingKind.RAM_HIGH, "mem_used_pct", settings.RAM_THRESHOLD_PERCENT, "RAM"),
    ]
    for kind, key, threshold, label in checks:
        if not _sustained(history, key, threshold):
            continue
        found.append(
            Detection(
                kind=kind,
                subject="",
                severity=Severity.WARNING,
                summary=(
                    f"{label} at {report[key]:.0f} % for "
                    f"{_duration(settings.SUSTAIN_SECONDS)} or more"
                ),
                evidence={
                    "value": report[key],
                    "threshold": threshold,
                    "top_cpu": report.get("top_cpu", []),
                    "top_memory": report.get("top_memory", []),
                },
            )
        )
    return found


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _measure_percent(value: float | None, threshold: float) -> Measurement:
    if value is None:
        return Measurement(False, None, "not measured")
    return Measurement(value >= threshold, value, f"{value:.1f} %")


# Runaway processes


def _is_runaway(process: dict[str, Any]) -> bool:
    if process["pid"] <= 1 or process["comm"] in settings.RUNAWAY_IGNORE:
        return False
    if process.get("opsguard"):
        # OpsGuard's own web server, worker, beat and jobs.
        return False
    return float(process["cpu_pct"]) >= settings.RUNAWAY_CPU_PERCENT


def _process_key(process: dict[str, Any]) -> tuple[int, int]:
    return process["pid"], process["start_ticks"]


def _runaway_processes(history: Sequence[SnapshotView]) -> list[Detection]:
    newest = history[0]
    found = []
    for process in newest.report.get("top_cpu", []):
        if not _is_runaway(process):
            continue
        if not _process_sustained(history, _process_key(process)):
            continue
        found.append(
            Detection(
                kind=FindingKind.RUNAWAY_PROCESS,
                subject=f"{process['comm']} (pid {process['pid']})",
                severity=Severity.WARNING,
                summary=(
                    f"process {process['comm']} (pid {process['pid']}) uses "
                    f"{process['cpu_pct']:.0f} % of a CPU"
                ),
                evidence={
                    "process": process,
                    "threshold": settings.RUNAWAY_CPU_PERCENT,
                },
            )
        )
    return found


def _process_sustained(history: Sequence[SnapshotView], key: tuple[int, int]) -> bool:
    newest = history[0].taken_at
    for view in history:
        match = [p for p in view.report.get("top_cpu", []) if _process_key(p) == key]
        if not match or not _is_runaway(match[0]):
            return False
        if (newest - view.taken_at).total_seconds() >= settings.SUSTAIN_SECONDS:
            return True
    return False


def _measure_process(evidence: dict[str, Any], report: Report) -> Measurement:
    seen = evidence.get("process", {})
    key = (seen.get("pid"), seen.get("start_ticks"))
    for process in report.get("top_cpu", []):
        if (process["pid"], process["start_ticks"]) == key:
            cpu = float(process["cpu_pct"])
            present = cpu >= settings.RUNAWAY_CPU_PERCENT
            return Measurement(present, cpu, f"pid {key[0]} still uses {cpu:.0f} %")
    return Measurement(False, 0.0, f"pid {key[0]} is gone or idle")


# Services and units


def _services(report: Report) -> list[Detection]:
    found = []
    for service in report.get("services", []):
        status = service["status"]
        if status in ("up", "transitional", "unknown"):
            # A unit caught starting or stopping is checked again next cycle.
            continue
        found.append(
            Detection(
                kind=FindingKind.SERVICE_DOWN,
                subject=service["name"],
                severity=Severity.CRITICAL,
                summary=_service_summary(service),
                evidence={"service": service},
            )
        )
    return found


def _service_summary(service: dict[str, Any]) -> str:
    name, status = service["name"], service["status"]
    if status == "not_found":
        return f"critical service {name} does not exist on the host"
    if status == "crash_loop":
        return f"critical service {name} keeps restarting"
    return f"critical service {name} is not running ({status})"


def _failed_units(report: Report) -> list[Detection]:
    watched = {s["name"] for s in report.get("services", [])}
    return [
        Detection(
            kind=FindingKind.UNIT_FAILED,
            subject=unit["unit"],
            severity=Severity.WARNING,
            summary=f"unit {unit['unit']} failed",
            evidence={"unit": unit},
        )
        for unit in report.get("failed_units", [])
        if unit["unit"] not in watched
    ]


def _measure_service(kind: str, name: str, report: Report) -> Measurement:
    if kind == FindingKind.UNIT_FAILED:
        failed = {u["unit"] for u in report.get("failed_units", [])}
        return Measurement(
            name in failed, None, f"unit {name} failed: {name in failed}"
        )
    for service in report.get("services", []):
        if service["name"] == name:
            up = service["status"] == "up"
            return Measurement(not up, None, f"service {name} is {service['status']}")
    return Measurement(True, None, f"service {name} was not checked")


def baseline(kind: str, evidence: dict[str, Any]) -> float | None:
    """Return the value a finding was raised with, to compare a later
    measurement against."""
    if kind == FindingKind.DISK_FULL:
        return float(evidence["filesystem"]["used_pct"])
    if kind == FindingKind.RUNAWAY_PROCESS:
        return float(evidence["process"]["cpu_pct"])
    value = evidence.get("value")
    return float(value) if value is not None else None
