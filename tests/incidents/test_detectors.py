"""Tests for the detection rules, on report dicts and snapshot lists built here."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidents.detectors import (
    Detection,
    SnapshotView,
    baseline,
    detect,
    fingerprint,
    measure,
    unreachable,
)
from incidents.models import FindingKind, Severity
from incidents.probe.report import ProbeReport, ProcessSample
from incidents.services import snapshot_report

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def thresholds(settings: Any) -> None:
    settings.DISK_THRESHOLD_PERCENT = 90.0
    settings.CPU_THRESHOLD_PERCENT = 90.0
    settings.RAM_THRESHOLD_PERCENT = 90.0
    settings.RUNAWAY_CPU_PERCENT = 90.0
    settings.SUSTAIN_SECONDS = 300
    settings.RUNAWAY_IGNORE = ["systemd", "sshd"]


def filesystem(target: str, used_pct: float) -> dict[str, Any]:
    return {
        "source": "/dev/sda1",
        "fstype": "ext4",
        "size_kb": 1000,
        "used_kb": int(used_pct * 10),
        "avail_kb": 1000 - int(used_pct * 10),
        "used_pct": used_pct,
        "target": target,
    }


def process(
    pid: int, comm: str, cpu_pct: float, start_ticks: int = 500
) -> dict[str, Any]:
    return {
        "pid": pid,
        "ppid": 1,
        "comm": comm,
        "cpu_pct": cpu_pct,
        "rss_kb": 1024,
        "start_ticks": start_ticks,
    }


def service(name: str, status: str) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "load_state": "loaded",
        "active_state": "active" if status == "up" else "failed",
        "sub_state": "running" if status == "up" else "failed",
        "n_restarts": 0,
        "source": "systemd",
    }


def failed_unit(unit: str) -> dict[str, Any]:
    return {
        "unit": unit,
        "load": "loaded",
        "active": "failed",
        "sub": "failed",
        "description": unit,
    }


def report(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cpu_busy_pct": 5.0,
        "mem_used_pct": 40.0,
        "filesystems": [],
        "top_cpu": [],
        "services": [],
        "failed_units": [],
    }
    data.update(fields)
    return data


def views(*reports: dict[str, Any], step: float = 60) -> list[SnapshotView]:
    """Return snapshots `step` seconds apart, newest first like the history."""
    return [
        SnapshotView(NOW - timedelta(seconds=index * step), data)
        for index, data in enumerate(reports)
    ]


def kinds(detections: list[Detection]) -> list[str]:
    return [d.kind for d in detections]


def only(detections: list[Detection], kind: str) -> list[Detection]:
    return [d for d in detections if d.kind == kind]


# Disk


def test_disk_full_one_finding_per_mount():
    data = report(
        filesystems=[
            filesystem("/", 91.0),
            filesystem("/var", 95.5),
            filesystem("/home", 50.0),
        ]
    )

    found = only(detect(views(data)), FindingKind.DISK_FULL)

    assert [d.subject for d in found] == ["/", "/var"]
    assert found[0].evidence["threshold"] == 90.0
    assert found[0].evidence["filesystem"]["target"] == "/"
    assert "/var is 96 % full" in found[1].summary


def test_disk_just_below_threshold_ignored():
    data = report(filesystems=[filesystem("/", 89.9)])

    assert detect(views(data)) == []


def test_disk_at_threshold_is_warning():
    data = report(filesystems=[filesystem("/", 90.0)])

    [found] = detect(views(data))

    assert found.kind == FindingKind.DISK_FULL
    assert found.severity == Severity.WARNING


def test_disk_critical_from_98_percent():
    data = report(filesystems=[filesystem("/", 97.9), filesystem("/var", 98.0)])

    severities = {d.subject: d.severity for d in detect(views(data))}

    assert severities["/"] == Severity.WARNING
    assert severities["/var"] == Severity.CRITICAL


def test_disk_threshold_follows_setting(settings):
    settings.DISK_THRESHOLD_PERCENT = 80.0
    data = report(filesystems=[filesystem("/", 85.0)])

    assert kinds(detect(views(data))) == [FindingKind.DISK_FULL]


# Host CPU and memory


@pytest.mark.parametrize(
    ("kind", "key"),
    [(FindingKind.CPU_HIGH, "cpu_busy_pct"), (FindingKind.RAM_HIGH, "mem_used_pct")],
)
def test_usage_sustained_raises_finding(kind, key):
    # Six snapshots one minute apart cover the 300 s window.
    history = views(*[report(**{key: 95.0}) for _ in range(6)])

    found = only(detect(history), kind)

    assert len(found) == 1
    assert found[0].subject == ""
    assert found[0].evidence["value"] == 95.0
    assert "for 5 min or more" in found[0].summary


@pytest.mark.parametrize(
    ("kind", "key"),
    [(FindingKind.CPU_HIGH, "cpu_busy_pct"), (FindingKind.RAM_HIGH, "mem_used_pct")],
)
def test_usage_dip_in_window_ignored(kind, key):
    values = [95.0, 96.0, 97.0, 50.0, 95.0, 95.0]
    history = views(*[report(**{key: value}) for value in values])

    assert only(detect(history), kind) == []


@pytest.mark.parametrize(
    ("kind", "key"),
    [(FindingKind.CPU_HIGH, "cpu_busy_pct"), (FindingKind.RAM_HIGH, "mem_used_pct")],
)
def test_usage_short_history_ignored(kind, key):
    # Five snapshots one minute apart span 240 s, short of the 300 s window.
    history = views(*[report(**{key: 99.0}) for _ in range(5)])

    assert only(detect(history), kind) == []


def test_usage_missing_value_ignored():
    history = views(*[report(cpu_busy_pct=None) for _ in range(6)])

    assert only(detect(history), FindingKind.CPU_HIGH) == []


def test_usage_dip_before_window_counts():
    # The dip is 360 s old, outside the 300 s window.
    values = [95.0, 95.0, 95.0, 95.0, 95.0, 95.0, 10.0]
    history = views(*[report(cpu_busy_pct=value) for value in values])

    assert kinds(detect(history)) == [FindingKind.CPU_HIGH]


# Runaway processes


def runaway_history(*top_cpu_lists: list[dict[str, Any]]) -> list[SnapshotView]:
    return views(*[report(top_cpu=top) for top in top_cpu_lists])


def test_runaway_sustained_raises_finding():
    burner = process(4242, "burner", 99.5, start_ticks=777)
    history = runaway_history(*[[burner] for _ in range(6)])

    [found] = detect(history)

    assert found.kind == FindingKind.RUNAWAY_PROCESS
    assert found.subject == "burner (pid 4242)"
    assert found.evidence["process"]["start_ticks"] == 777
    assert found.severity == Severity.WARNING


def test_runaway_reused_pid_not_counted():
    # The same pid with another start time is another process.
    now = process(4242, "burner", 99.5, start_ticks=900)
    before = process(4242, "burner", 99.5, start_ticks=777)
    history = runaway_history([now], [now], [now], [before], [before], [before])

    assert detect(history) == []


def test_runaway_dip_in_window_ignored():
    busy = process(4242, "burner", 99.5)
    idle = process(4242, "burner", 10.0)
    history = runaway_history([busy], [busy], [idle], [busy], [busy], [busy])

    assert detect(history) == []


def test_runaway_absent_from_snapshot_ignored():
    busy = process(4242, "burner", 99.5)
    history = runaway_history([busy], [busy], [], [busy], [busy], [busy])

    assert detect(history) == []


def test_runaway_short_history_ignored():
    busy = process(4242, "burner", 99.5)
    history = runaway_history(*[[busy] for _ in range(5)])

    assert detect(history) == []


@pytest.mark.parametrize(
    "busy",
    [process(1, "init", 99.0), process(812, "sshd", 99.0)],
    ids=["pid 1", "ignored name"],
)
def test_runaway_pid1_and_ignored_names(busy):
    history = runaway_history(*[[busy] for _ in range(6)])

    assert detect(history) == []


def test_kernel_threads_not_in_top_cpu():
    kworker = ProcessSample(
        pid=90, ppid=2, comm="kworker/0:1", cpu_pct=100.0, rss_kb=0, start_ticks=5
    )
    burner = ProcessSample(
        pid=4242, ppid=1, comm="burner", cpu_pct=99.0, rss_kb=10, start_ticks=700
    )
    probe = ProbeReport(
        hostname="web-01",
        kernel="6.1.0",
        cpu_count=4,
        cpu_busy_pct=30.0,
        cpu_iowait_pct=0.0,
        mem_total_kb=1000,
        mem_available_kb=500,
        processes=[kworker, burner],
    )
    data = snapshot_report(probe)

    assert [p["pid"] for p in data["top_cpu"]] == [4242]
    assert "processes" not in data
    subjects = [d.subject for d in detect(views(*[data] * 6))]
    assert subjects == ["burner (pid 4242)"]


# Services and failed units


@pytest.mark.parametrize("status", ["down", "failed", "crash_loop", "not_found"])
def test_service_bad_status_is_critical(status):
    data = report(services=[service("nginx.service", status)])

    [found] = detect(views(data))

    assert found.kind == FindingKind.SERVICE_DOWN
    assert found.subject == "nginx.service"
    assert found.severity == Severity.CRITICAL
    assert found.evidence["service"]["status"] == status


def test_service_not_found_summary():
    data = report(services=[service("ngnix", "not_found")])

    [found] = detect(views(data))

    assert found.summary == "critical service ngnix does not exist on the host"


@pytest.mark.parametrize("status", ["up", "transitional", "unknown"])
def test_service_ok_or_changing_ignored(status):
    data = report(services=[service("nginx.service", status)])

    assert detect(views(data)) == []


def test_failed_unit_outside_watched_services():
    data = report(
        services=[service("nginx.service", "failed")],
        failed_units=[failed_unit("nginx.service"), failed_unit("backup.service")],
    )

    detections = detect(views(data))

    assert kinds(detections) == [FindingKind.SERVICE_DOWN, FindingKind.UNIT_FAILED]
    assert detections[1].subject == "backup.service"
    assert detections[1].severity == Severity.WARNING


def test_unreachable_host_detection():
    found = unreachable("web-01", "probe timed out after 30 s")

    assert found.kind == FindingKind.HOST_UNREACHABLE
    assert found.severity == Severity.CRITICAL
    assert found.evidence == {"error": "probe timed out after 30 s"}


# Fingerprints


def test_fingerprint_stable_per_subject():
    first = fingerprint(1, FindingKind.DISK_FULL, "/var")

    assert first == fingerprint(1, FindingKind.DISK_FULL, "/var")
    assert first != fingerprint(2, FindingKind.DISK_FULL, "/var")
    assert first != fingerprint(1, FindingKind.DISK_FULL, "/")
    assert first != fingerprint(1, FindingKind.UNIT_FAILED, "/var")


# Measurement and baseline


def test_measure_disk_still_full():
    data = report(filesystems=[filesystem("/var", 93.0)])

    result = measure(FindingKind.DISK_FULL, "/var", {}, data)

    assert result.present
    assert result.value == 93.0


def test_measure_disk_below_threshold():
    data = report(filesystems=[filesystem("/var", 60.0)])

    result = measure(FindingKind.DISK_FULL, "/var", {}, data)

    assert not result.present
    assert result.value == 60.0
    assert result.detail == "/var is 60.0 % full"


def test_measure_disk_unmounted():
    result = measure(FindingKind.DISK_FULL, "/mnt/usb", {}, report())

    assert not result.present
    assert result.value is None


def test_measure_process_still_busy():
    burner = process(4242, "burner", 99.0, start_ticks=777)
    data = report(top_cpu=[burner])

    result = measure(FindingKind.RUNAWAY_PROCESS, "", {"process": burner}, data)

    assert result.present
    assert result.value == 99.0


def test_measure_process_gone():
    burner = process(4242, "burner", 99.0, start_ticks=777)
    successor = process(4242, "burner", 99.0, start_ticks=900)
    data = report(top_cpu=[successor])

    result = measure(FindingKind.RUNAWAY_PROCESS, "", {"process": burner}, data)

    assert not result.present
    assert result.value == 0.0


def test_measure_service_back_up():
    data = report(services=[service("nginx.service", "up")])

    result = measure(FindingKind.SERVICE_DOWN, "nginx.service", {}, data)

    assert not result.present


def test_measure_service_unchecked_is_present():
    result = measure(FindingKind.SERVICE_DOWN, "nginx.service", {}, report())

    assert result.present


def test_measure_failed_unit_cleared():
    data = report(failed_units=[failed_unit("other.service")])

    result = measure(FindingKind.UNIT_FAILED, "backup.service", {}, data)

    assert not result.present


@pytest.mark.parametrize(
    ("kind", "key"),
    [(FindingKind.CPU_HIGH, "cpu_busy_pct"), (FindingKind.RAM_HIGH, "mem_used_pct")],
)
def test_measure_usage_against_threshold(kind, key):
    assert measure(kind, "", {}, report(**{key: 95.0})).present
    assert not measure(kind, "", {}, report(**{key: 50.0})).present
    assert not measure(kind, "", {}, report(**{key: None})).present


def test_measure_unreachable_host_answered():
    result = measure(FindingKind.HOST_UNREACHABLE, "", {}, report())

    assert not result.present


def test_baseline_per_kind():
    disk = {"filesystem": filesystem("/var", 95.0)}
    runaway = {"process": process(4242, "burner", 99.5)}

    assert baseline(FindingKind.DISK_FULL, disk) == 95.0
    assert baseline(FindingKind.RUNAWAY_PROCESS, runaway) == 99.5
    assert baseline(FindingKind.CPU_HIGH, {"value": 97}) == 97.0
    assert baseline(FindingKind.SERVICE_DOWN, {"service": {}}) is None
