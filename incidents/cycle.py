"""One collection cycle: probe, detect, decide, ask."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction

from approvals.models import RiskDecision

from .engines import get_engine
from .models import Finding, HealthSnapshot, Host
from .services import clear_findings, probe_host, record_findings

logger = logging.getLogger(__name__)


@dataclass
class CycleResult:
    snapshots: list[HealthSnapshot] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    decisions: list[RiskDecision] = field(default_factory=list)


def run_cycle(hosts: list[Host] | None = None) -> CycleResult:
    """Probe every enabled host, raise findings, open a decision for each and
    queue one notification that lists them all."""
    from approvals.notify import queue_cycle
    from approvals.services import open_decision, withdraw_decisions

    result = CycleResult()
    engine = get_engine()
    try:
        for host in hosts if hosts is not None else Host.objects.filter(enabled=True):
            snapshot = probe_host(host)
            if snapshot is None:
                continue
            result.snapshots.append(snapshot)
            with transaction.atomic():
                for finding in clear_findings(snapshot):
                    withdraw_decisions(finding.pk, "the problem cleared by itself")
                for finding in record_findings(snapshot):
                    result.findings.append(finding)
                    proposal = engine.propose(finding)
                    result.decisions.append(open_decision(finding, proposal))
    finally:
        # Decisions already committed run to their deadlines, so they are
        # announced even when a later host fails in an unexpected way.
        with transaction.atomic():
            queue_cycle(result.decisions)
    logger.info(
        "Cycle probed %s hosts, raised %s findings",
        len(result.snapshots),
        len(result.findings),
    )
    return result
