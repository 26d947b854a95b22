"""Tests for the rules engine's proposals and the clean-up path selection."""

from typing import Any

import pytest

from automation.catalog import check_proposal
from incidents.engines import Proposal, RulesEngine, cleanup_paths_under, get_engine
from incidents.models import Finding, FindingKind, HealthSnapshot, Host


@pytest.fixture(autouse=True)
def cleanup_paths(settings: Any) -> None:
    settings.DISK_CLEANUP_PATHS = ["/tmp", "/var/tmp", "/srv/cache"]
    settings.DISK_CLEANUP_MIN_AGE_HOURS = 24


def mounts_report(*targets: str) -> dict[str, Any]:
    return {"filesystems": [{"target": target} for target in targets]}


def finding(kind: str, subject: str = "", **fields: Any) -> Finding:
    """Return an unsaved finding, which is enough because the engine only reads."""
    host = fields.pop("host", Host(name="web-01"))
    return Finding(host=host, kind=kind, subject=subject, **fields)


def propose(item: Finding) -> Proposal:
    return RulesEngine().propose(item)


def service_down(name: str, status: str) -> Finding:
    evidence = {"service": {"name": name, "status": status}}
    return finding(FindingKind.SERVICE_DOWN, name, evidence=evidence)


def disk_full(mount: str, *mounts: str) -> Finding:
    snapshot = HealthSnapshot(report=mounts_report(*mounts))
    return finding(FindingKind.DISK_FULL, mount, snapshot=snapshot)


def runaway(pid: int = 4242) -> Finding:
    process = {"pid": pid, "start_ticks": 777, "comm": "burner", "cpu_pct": 99.0}
    return finding(
        FindingKind.RUNAWAY_PROCESS,
        f"burner (pid {pid})",
        evidence={"process": process},
    )


@pytest.mark.parametrize("status", ["down", "failed", "crash_loop"])
def test_service_down_restarts_it(status):
    proposal = propose(service_down("nginx.service", status))

    assert proposal.template == "restart_service"
    assert proposal.parameters == {"service": "nginx.service"}
    assert proposal.engine == "rules"


def test_service_not_found_is_manual():
    # A misspelled name in the host's critical services must not be restarted.
    proposal = propose(service_down("ngnix", "not_found"))

    assert proposal.template is None
    assert proposal.parameters == {}
    assert "ngnix does not exist on web-01" in proposal.rationale


def test_disk_full_cleans_paths_on_mount():
    proposal = propose(disk_full("/", "/", "/srv"))

    assert proposal.template == "disk_cleanup"
    assert proposal.parameters == {
        "mount": "/",
        "paths": ["/tmp", "/var/tmp"],
        "min_age_hours": 24,
    }
    assert "/tmp, /var/tmp" in proposal.rationale


def test_disk_full_separate_var_mount():
    proposal = propose(disk_full("/var", "/", "/var", "/srv"))

    assert proposal.parameters["paths"] == ["/var/tmp"]


def test_disk_full_without_paths_is_manual():
    proposal = propose(disk_full("/home", "/", "/home"))

    assert proposal.template is None
    assert "none of DISK_CLEANUP_PATHS is on /home" in proposal.rationale


def test_disk_full_without_snapshot():
    # Pruning deletes old snapshots, and then the full mount is the only mount known.
    item = finding(FindingKind.DISK_FULL, "/srv")

    assert propose(item).parameters["paths"] == ["/srv/cache"]


def test_runaway_kills_that_process():
    proposal = propose(runaway())

    assert proposal.template == "kill_process"
    assert proposal.parameters == {"pid": 4242, "start_ticks": 777, "comm": "burner"}


def test_unreachable_host_reboots():
    remote = Host(name="web-01", collector="ssh")
    proposal = propose(finding(FindingKind.HOST_UNREACHABLE, host=remote))

    assert proposal.template == "reboot"
    assert proposal.parameters == {"reason": "host did not answer the probe"}


def test_failed_local_probe_is_manual():
    # OpsGuard runs on the local host, so a failed local probe is no reason
    # to reboot the machine OpsGuard itself runs on.
    evidence = {"error": "probe timed out after 30 s"}
    proposal = propose(finding(FindingKind.HOST_UNREACHABLE, evidence=evidence))

    assert proposal.template is None
    assert "probe timed out after 30 s" in proposal.rationale


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (FindingKind.CPU_HIGH, "cpu saturated"),
        (FindingKind.RAM_HIGH, "memory exhausted"),
        (FindingKind.UNIT_FAILED, "failed unit"),
    ],
)
def test_kinds_without_fix_are_manual(kind, label):
    proposal = propose(finding(kind, "backup.service"))

    assert proposal.template is None
    assert proposal.rationale == f"no automatic fix for {label}"


def test_get_engine_is_rules():
    assert get_engine().name == "rules"


@pytest.mark.parametrize(
    "build",
    [
        lambda: service_down("nginx.service", "failed"),
        lambda: disk_full("/var", "/", "/var"),
        runaway,
        lambda: finding(FindingKind.HOST_UNREACHABLE),
    ],
    ids=["service", "disk", "process", "unreachable"],
)
def test_proposals_pass_catalog(register, build):
    host = Host.objects.create(name="web-01", collector="ssh")
    item = build()
    item.host = host

    proposal = propose(item)
    checked = check_proposal(host, proposal.template, proposal.parameters)

    assert checked.template.slug == proposal.template


# cleanup_paths_under


@pytest.mark.parametrize(
    ("mount", "mounts", "expected"),
    [
        ("/", ["/"], ["/tmp", "/var/tmp", "/srv/cache"]),
        ("/", ["/", "/var"], ["/tmp", "/srv/cache"]),
        ("/var", ["/", "/var"], ["/var/tmp"]),
        ("/var", ["/", "/var", "/var/tmp"], []),
        ("/var/tmp", ["/", "/var", "/var/tmp"], ["/var/tmp"]),
        ("/srv", [], ["/srv/cache"]),
        ("/sr", ["/", "/sr", "/srv"], []),
        ("/home", ["/", "/home"], []),
    ],
    ids=[
        "root only",
        "var separate",
        "var mount",
        "nested mount owns path",
        "path is a mount",
        "mount not listed",
        "name prefix is no parent",
        "no path on mount",
    ],
)
def test_cleanup_paths_under(mount, mounts, expected):
    assert cleanup_paths_under(mount, mounts) == expected
