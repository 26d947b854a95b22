"""Tests for one collection cycle, with a collector that returns stored reports."""

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest

from approvals.models import DecisionStatus, Notification, RiskDecision
from approvals.notify import deliver
from incidents.collectors.base import (
    Collector,
    CollectorError,
    ProbeTarget,
    register_collector,
)
from incidents.cycle import run_cycle
from incidents.models import Finding, FindingKind, HealthSnapshot, Host
from incidents.probe.report import (
    Filesystem,
    ProbeReport,
    ServiceState,
    ServiceStatus,
)
from tests.fakes.discord import FakeDiscord


@register_collector
class CannedCollector(Collector):
    """A collector that returns the report stored for a host name, or raises
    the exception stored for it."""

    kind: ClassVar[str] = "canned"
    reports: ClassVar[dict[str, ProbeReport | Exception]] = {}
    previous: ClassVar[dict[str, Mapping[str, int | None]]] = {}

    def __init__(self, **options: Any) -> None:
        self.options = options

    def run_probe(self, host: ProbeTarget) -> str:
        raise CollectorError(f"host {host.name}: canned collector has no raw output")

    def probe(
        self,
        host: ProbeTarget,
        previous_n_restarts: Mapping[str, int | None] | None = None,
    ) -> ProbeReport:
        CannedCollector.previous[host.name] = dict(previous_n_restarts or {})
        result = CannedCollector.reports[host.name]
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture(autouse=True)
def canned(settings: Any) -> Iterator[None]:
    settings.DISK_THRESHOLD_PERCENT = 90.0
    settings.DISK_CLEANUP_PATHS = ["/tmp", "/var/tmp"]
    settings.DISCORD_WEBHOOK_URL = ""
    # One failed probe is enough for an unreachable finding in these tests.
    settings.SUSTAIN_SECONDS = 0
    CannedCollector.reports.clear()
    CannedCollector.previous.clear()
    yield
    CannedCollector.reports.clear()
    CannedCollector.previous.clear()


@pytest.fixture
def discord(settings: Any) -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        settings.DISCORD_WEBHOOK_URL = fake.webhook_url
        yield fake


def host(name: str, **fields: Any) -> Host:
    return Host.objects.create(name=name, collector=CannedCollector.kind, **fields)


def filesystem(target: str, used_pct: float) -> Filesystem:
    used_kb = int(used_pct * 10)
    return Filesystem(
        "/dev/sda1", "ext4", 1000, used_kb, 1000 - used_kb, used_pct, target
    )


def service(name: str, status: ServiceStatus, n_restarts: int = 0) -> ServiceState:
    return ServiceState(
        name, status, "loaded", "active", "running", n_restarts, "systemd"
    )


def probe_report(**fields: Any) -> ProbeReport:
    values: dict[str, Any] = {
        "hostname": "web-01",
        "kernel": "6.1.0",
        "cpu_count": 4,
        "cpu_busy_pct": 12.0,
        "cpu_iowait_pct": 0.5,
        "mem_total_kb": 1000,
        "mem_available_kb": 600,
        "filesystems": [filesystem("/", 40.0)],
        "systemd_available": True,
    }
    values.update(fields)
    return ProbeReport(**values)


def troubled_report() -> ProbeReport:
    return probe_report(
        filesystems=[filesystem("/", 95.0)],
        services=[
            service("nginx.service", ServiceStatus.FAILED, n_restarts=3),
            service("ngnix", ServiceStatus.NOT_FOUND),
        ],
    )


def test_cycle_one_notification_lists_all(register, discord):
    host("web-01")
    host("db-01")
    CannedCollector.reports["web-01"] = troubled_report()
    CannedCollector.reports["db-01"] = CollectorError("host db-01: timed out")

    result = run_cycle()

    assert len(result.snapshots) == 2
    subjects = sorted((f.host.name, f.kind, f.subject) for f in result.findings)
    assert subjects == [
        ("db-01", FindingKind.HOST_UNREACHABLE, ""),
        ("web-01", FindingKind.DISK_FULL, "/"),
        ("web-01", FindingKind.SERVICE_DOWN, "nginx.service"),
        ("web-01", FindingKind.SERVICE_DOWN, "ngnix"),
    ]
    assert len(result.decisions) == 4
    notification = Notification.objects.get()
    assert notification.kind == Notification.Kind.CYCLE
    assert set(notification.decisions.all()) == set(result.decisions)

    deliver(notification.pk)
    assert len(discord.messages) == 1


def test_cycle_decision_per_finding(register, discord):
    host("web-01")
    CannedCollector.reports["web-01"] = troubled_report()

    run_cycle()

    proposals = {
        d.finding.subject: (d.template.slug if d.template else None, d.status)
        for d in RiskDecision.objects.select_related("finding", "template")
    }
    assert proposals == {
        "/": ("disk_cleanup", DecisionStatus.PENDING),
        "nginx.service": ("restart_service", DecisionStatus.PENDING),
        # A misspelled service name goes to a human and is never restarted.
        "ngnix": (None, DecisionStatus.MANUAL),
    }


def test_second_cycle_adds_no_decision(register, discord):
    host("web-01")
    CannedCollector.reports["web-01"] = troubled_report()
    run_cycle()

    second = run_cycle()

    assert second.findings == []
    assert second.decisions == []
    assert RiskDecision.objects.count() == 3
    assert Notification.objects.count() == 1
    assert Finding.objects.filter(raised=False).count() == 3


def test_cycle_passes_previous_restarts(register):
    host("web-01")
    CannedCollector.reports["web-01"] = troubled_report()
    run_cycle()

    run_cycle()

    previous = CannedCollector.previous["web-01"]
    assert previous == {"nginx.service": 3, "ngnix": 0}


def test_healthy_host_no_notification(register, discord):
    host("web-01")
    CannedCollector.reports["web-01"] = probe_report()

    result = run_cycle()

    assert len(result.snapshots) == 1
    assert result.findings == []
    assert not Notification.objects.exists()


def test_cycle_stores_snapshot_fields(register):
    web = host("web-01")
    CannedCollector.reports["web-01"] = troubled_report()

    [snapshot] = run_cycle().snapshots

    assert snapshot.reachable
    assert snapshot.cpu_busy_pct == 12.0
    assert snapshot.mem_used_pct == 40.0
    assert snapshot.max_disk_pct == 95.0
    assert snapshot.systemd_available
    web.refresh_from_db()
    assert web.last_seen_at == snapshot.taken_at
    assert web.last_error == ""


def test_unreachable_host_records_error(register):
    web = host("web-01")
    CannedCollector.reports["web-01"] = CollectorError("host web-01: timed out")

    [snapshot] = run_cycle().snapshots

    assert not snapshot.reachable
    assert snapshot.error == "host web-01: timed out"
    web.refresh_from_db()
    assert web.last_error == "host web-01: timed out"


def test_cycle_skips_disabled_hosts(register):
    host("web-01")
    host("old-01", enabled=False)
    CannedCollector.reports["web-01"] = probe_report()

    result = run_cycle()

    assert [s.host.name for s in result.snapshots] == ["web-01"]
    assert not HealthSnapshot.objects.filter(host__name="old-01").exists()


def test_cycle_probes_given_hosts(register):
    web = host("web-01")
    host("db-01")
    CannedCollector.reports["web-01"] = probe_report()

    result = run_cycle([web])

    assert [s.host for s in result.snapshots] == [web]


def test_unknown_collector_kind_not_probed(register):
    # A configuration error shows nothing about the host's state, so it raises no
    # finding (which would propose a reboot) and is shown on the host.
    host = Host.objects.create(name="web-01", collector="telnet")

    result = run_cycle()

    host.refresh_from_db()
    assert result.snapshots == []
    assert result.findings == []
    assert "unknown collector kind 'telnet'" in host.last_error


def test_failed_host_still_notifies_earlier(register, discord):
    host("a-01")
    host("b-01")
    CannedCollector.reports["a-01"] = troubled_report()
    CannedCollector.reports["b-01"] = RuntimeError("collector bug")

    with pytest.raises(RuntimeError):
        run_cycle()

    assert RiskDecision.objects.count() == 3
    assert Notification.objects.count() == 1
