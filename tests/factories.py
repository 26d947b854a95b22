"""Small builders for rows the tests need; real services do the rest."""

from typing import Any

from approvals.models import RiskDecision
from approvals.services import open_decision
from incidents.detectors import fingerprint
from incidents.engines import Proposal
from incidents.models import Finding, FindingKind, Host, Incident


def make_finding(
    host: Host, kind: str = FindingKind.RUNAWAY_PROCESS, **fields: Any
) -> Finding:
    incident = Incident.objects.create(host=host, title=f"Problems on {host.name}")
    subject = fields.pop("subject", "burner (pid 4242)")
    return Finding.objects.create(
        host=host,
        kind=kind,
        subject=subject,
        fingerprint=fingerprint(host.pk, kind, subject),
        summary=fields.pop("summary", f"{kind} on {host.name}"),
        evidence=fields.pop(
            "evidence",
            {
                "process": {
                    "pid": 4242,
                    "start_ticks": 1,
                    "comm": "burner",
                    "cpu_pct": 99,
                }
            },
        ),
        incident=incident,
        **fields,
    )


def make_decision(
    host: Host,
    template: str = "kill_process",
    parameters: dict[str, Any] | None = None,
) -> RiskDecision:
    finding = make_finding(host)
    if parameters is None:
        parameters = {"pid": 4242, "start_ticks": 1, "comm": "burner"}
    return open_decision(finding, Proposal(template, parameters, "test proposal"))
