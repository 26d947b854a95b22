"""Dashboard pages of hosts and incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.views.generic import DetailView, ListView

from .models import AuditEvent, Finding, HealthSnapshot, Host, Incident

RECENT_SNAPSHOTS = 20


@dataclass(frozen=True)
class HostRow:
    host: Host
    snapshot: HealthSnapshot | None


@dataclass(frozen=True)
class FindingRow:
    """A raised finding with the repeats that deduplication folded into it."""

    finding: Finding
    repeats: int
    last_seen: datetime


def hosts_with_latest_snapshot(hosts: QuerySet[Host]) -> list[HostRow]:
    """Pair each host with its newest snapshot in two queries, whatever the
    number of hosts. The snapshots come without their report."""
    newest = HealthSnapshot.objects.filter(host=OuterRef("pk")).order_by("-taken_at")
    rows = list(hosts.annotate(latest_snapshot_id=Subquery(newest.values("pk")[:1])))
    ids = [row.latest_snapshot_id for row in rows if row.latest_snapshot_id]
    snapshots = HealthSnapshot.objects.defer("report").in_bulk(ids)
    return [HostRow(row, snapshots.get(row.latest_snapshot_id)) for row in rows]


def collect_interval_context() -> dict[str, Any]:
    return {"collect_interval": settings.COLLECT_INTERVAL}


def open_incidents() -> QuerySet[Incident]:
    return (
        Incident.objects.filter(status=Incident.Status.OPEN)
        .select_related("host")
        .annotate(
            # Deduplication stores each repeat of a raised finding with
            # raised=False, so only raised findings count as problems.
            open_findings=Count(
                "findings",
                filter=Q(findings__status="open", findings__raised=True),
                distinct=True,
            ),
            decision_count=Count("decisions", distinct=True),
        )
        .order_by("-opened_at")
    )


def finding_rows(incident: Incident) -> list[FindingRow]:
    # The detector stores a repeat every cycle while a problem lasts, so the
    # page lists each raised finding once with a count of its repeats.
    repeats = {
        row["fingerprint"]: row
        for row in Finding.objects.filter(incident=incident, raised=False)
        .values("fingerprint")
        .annotate(count=Count("pk"), last_seen=Max("created_at"))
    }
    rows = []
    raised = Finding.objects.filter(incident=incident, raised=True)
    for finding in raised.order_by("created_at"):
        repeat = repeats.get(finding.fingerprint)
        count = repeat["count"] if repeat else 0
        last_seen = max(finding.created_at, repeat["last_seen"]) if repeat else None
        rows.append(FindingRow(finding, count, last_seen or finding.created_at))
    return rows


class HostListView(ListView):
    template_name = "incidents/host_list.html"
    context_object_name = "hosts"
    paginate_by = 100

    def get_queryset(self) -> QuerySet[Host]:
        return Host.objects.all()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["host_rows"] = hosts_with_latest_snapshot(
            context["page_obj"].object_list
        )
        context.update(collect_interval_context())
        return context


class HostDetailView(DetailView):
    model = Host
    template_name = "incidents/host_detail.html"
    context_object_name = "host"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        host = self.object
        recent = list(
            host.snapshots.defer("report").order_by("-taken_at")[:RECENT_SNAPSHOTS]
        )
        latest = host.snapshots.order_by("-taken_at").first()
        context.update(
            latest=latest,
            report=(latest.report if latest else None) or {},
            recent_snapshots=recent,
            incidents=host.incidents.order_by("-opened_at")[:10],
            open_findings=host.findings.filter(status="open", raised=True),
            **collect_interval_context(),
        )
        return context


class IncidentListView(ListView):
    template_name = "incidents/incident_list.html"
    context_object_name = "incidents"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Incident]:
        incidents = Incident.objects.select_related("host").annotate(
            finding_count=Count(
                "findings", filter=Q(findings__raised=True), distinct=True
            ),
            decision_count=Count("decisions", distinct=True),
        )
        incidents = incidents.order_by("-opened_at")
        status = self.status_filter()
        if status:
            incidents = incidents.filter(status=status)
        return incidents

    def status_filter(self) -> str:
        """Return the requested status, or "" when it is missing or invalid."""
        status = self.request.GET.get("status", "")
        return status if status in Incident.Status.values else ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["statuses"] = Incident.Status.choices
        context["current_status"] = self.status_filter()
        return context


class IncidentDetailView(DetailView):
    template_name = "incidents/incident_detail.html"
    context_object_name = "incident"

    def get_queryset(self) -> QuerySet[Incident]:
        return Incident.objects.select_related("host")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        incident = self.object
        findings = finding_rows(incident)
        decisions = incident.decisions.select_related(
            "finding", "template", "risk_level", "job_run"
        ).order_by("created_at")
        events = AuditEvent.objects.filter(incident=incident).order_by(
            "created_at", "id"
        )
        context.update(findings=findings, decisions=decisions, events=events)
        return context
