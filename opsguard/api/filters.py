"""Query filters of the REST API list endpoints."""

from __future__ import annotations

import django_filters

from approvals.models import RiskDecision
from automation.models import JobRun
from incidents.models import Finding, HealthSnapshot, Host, Incident


class HostFilterSet(django_filters.FilterSet):
    class Meta:
        model = Host
        fields = ["name", "collector", "enabled", "is_hypervisor"]


class HealthSnapshotFilterSet(django_filters.FilterSet):
    host_name = django_filters.CharFilter(field_name="host__name")
    taken_after = django_filters.IsoDateTimeFilter(
        field_name="taken_at", lookup_expr="gte"
    )
    taken_before = django_filters.IsoDateTimeFilter(
        field_name="taken_at", lookup_expr="lt"
    )

    class Meta:
        model = HealthSnapshot
        fields = ["host", "reachable"]


class FindingFilterSet(django_filters.FilterSet):
    host_name = django_filters.CharFilter(field_name="host__name")

    class Meta:
        model = Finding
        fields = ["host", "kind", "status", "raised", "incident", "severity"]


class IncidentFilterSet(django_filters.FilterSet):
    host_name = django_filters.CharFilter(field_name="host__name")

    class Meta:
        model = Incident
        fields = ["status", "host"]


class RiskDecisionFilterSet(django_filters.FilterSet):
    host_name = django_filters.CharFilter(field_name="host__name")
    risk_level = django_filters.CharFilter(field_name="risk_level__name")
    template = django_filters.CharFilter(field_name="template__slug")

    class Meta:
        model = RiskDecision
        fields = ["status", "host", "incident", "risk_level", "template"]


class JobRunFilterSet(django_filters.FilterSet):
    class Meta:
        model = JobRun
        fields = ["state", "decision", "verification", "executor"]
