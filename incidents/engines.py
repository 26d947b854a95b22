"""Analysis engines: map a finding to a catalog template, or to a human.

An engine only proposes. The proposal is checked against the catalog before
any decision is made, and the risk level never comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings

from .models import CollectorKind, Finding, FindingKind


@dataclass(frozen=True)
class Proposal:
    template: str | None  # catalog slug; None means manual intervention
    parameters: dict[str, Any] = field(default_factory=dict)
    rationale: str = ""
    engine: str = "rules"


def manual(reason: str) -> Proposal:
    return Proposal(template=None, rationale=reason)


class RulesEngine:
    """The default engine, and the fallback when another engine fails."""

    name = "rules"

    def propose(self, finding: Finding) -> Proposal:
        handler = {
            FindingKind.SERVICE_DOWN: self._service_down,
            FindingKind.DISK_FULL: self._disk_full,
            FindingKind.RUNAWAY_PROCESS: self._runaway,
            FindingKind.HOST_UNREACHABLE: self._unreachable,
        }.get(FindingKind(finding.kind))
        if handler is None:
            return manual(f"no automatic fix for {finding.get_kind_display().lower()}")
        return handler(finding)

    def _service_down(self, finding: Finding) -> Proposal:
        service = finding.evidence.get("service", {})
        if service.get("status") == "not_found":
            return manual(
                f"service {finding.subject} does not exist on {finding.host}; "
                "check the name in the host's critical services"
            )
        return Proposal(
            "restart_service",
            {"service": finding.subject},
            f"restart {finding.subject}, which is not running",
        )

    def _disk_full(self, finding: Finding) -> Proposal:
        mount = finding.subject
        report = finding.snapshot.report if finding.snapshot else {}
        mounts = [fs["target"] for fs in report.get("filesystems", [])]
        paths = cleanup_paths_under(mount, mounts)
        if not paths:
            return manual(
                f"none of DISK_CLEANUP_PATHS is on {mount}; free space by hand or "
                "add a clean-up path on that filesystem"
            )
        return Proposal(
            "disk_cleanup",
            {
                "mount": mount,
                "paths": paths,
                "min_age_hours": settings.DISK_CLEANUP_MIN_AGE_HOURS,
            },
            f"delete files older than {settings.DISK_CLEANUP_MIN_AGE_HOURS} h "
            f"in {', '.join(paths)}",
        )

    def _runaway(self, finding: Finding) -> Proposal:
        process = finding.evidence["process"]
        return Proposal(
            "kill_process",
            {
                "pid": process["pid"],
                "start_ticks": process["start_ticks"],
                "comm": process["comm"],
            },
            f"stop {process['comm']} (pid {process['pid']}), which keeps a CPU busy",
        )

    def _unreachable(self, finding: Finding) -> Proposal:
        if finding.host.collector == CollectorKind.LOCAL:
            # OpsGuard runs on this machine, so the machine is up: the probe
            # itself failed, and a reboot would not fix that.
            error = finding.evidence.get("error", "")
            return manual(f"the probe of this machine failed: {error}")
        return Proposal(
            "reboot",
            {"reason": "host did not answer the probe"},
            f"reboot {finding.host}, which does not answer",
        )


def cleanup_paths_under(mount: str, mounts: list[str]) -> list[str]:
    """Return the configured clean-up paths that live on the filesystem
    mounted at `mount`, given every mount point of the host."""
    return [
        path
        for path in settings.DISK_CLEANUP_PATHS
        if _owning_mount(path, [*mounts, mount]) == mount
    ]


def _owning_mount(path: str, mounts: list[str]) -> str | None:
    target = PurePosixPath(path)
    owners = [
        PurePosixPath(m)
        for m in mounts
        if PurePosixPath(m) == target or PurePosixPath(m) in target.parents
    ]
    if not owners:
        return None
    return str(max(owners, key=lambda m: len(m.parts)))


def get_engine() -> RulesEngine:
    return RulesEngine()
