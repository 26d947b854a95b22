"""REST API serializers. Every model is read-only except Host."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from approvals.models import RiskDecision, RiskLevel
from automation.models import JobRun, RemediationTemplate
from incidents.models import Finding, HealthSnapshot, Host, Incident


class HostSerializer(serializers.ModelSerializer):
    class Meta:
        model = Host
        fields = [
            "id",
            "name",
            "address",
            "collector",
            "enabled",
            "is_hypervisor",
            "critical_services",
            "created_at",
            "last_seen_at",
            "last_error",
        ]
        read_only_fields = ["created_at", "last_seen_at", "last_error"]

    def validate_critical_services(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(
            isinstance(name, str) and name for name in value
        ):
            raise serializers.ValidationError(
                f"critical_services must be a list of service names, "
                f'e.g. ["sshd", "nginx.service"]; got {value!r}.'
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Apply Host.clean, which DRF does not call, to the merged values.
        host = Host(**{**self._current_values(), **attrs})
        host.pk = self.instance.pk if self.instance else None
        try:
            host.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return attrs

    def _current_values(self) -> dict[str, Any]:
        if self.instance is None:
            return {}
        names = ["name", "address", "collector", "critical_services"]
        return {name: getattr(self.instance, name) for name in names}


class HealthSnapshotSerializer(serializers.ModelSerializer):
    host_name = serializers.CharField(source="host.name", read_only=True)

    class Meta:
        model = HealthSnapshot
        fields = [
            "id",
            "host",
            "host_name",
            "taken_at",
            "reachable",
            "error",
            "cpu_busy_pct",
            "mem_used_pct",
            "max_disk_pct",
            "io_pressure_avg60",
            "systemd_available",
            "report",
        ]


class FindingSerializer(serializers.ModelSerializer):
    host_name = serializers.CharField(source="host.name", read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "host",
            "host_name",
            "kind",
            "subject",
            "fingerprint",
            "severity",
            "summary",
            "evidence",
            "snapshot",
            "incident",
            "raised",
            "status",
            "created_at",
            "resolved_at",
        ]


class IncidentSerializer(serializers.ModelSerializer):
    host_name = serializers.CharField(source="host.name", read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "host",
            "host_name",
            "title",
            "status",
            "opened_at",
            "resolved_at",
        ]


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = [
            "id",
            "decision",
            "executor",
            "external_id",
            "state",
            "rc",
            "created_at",
            "launched_at",
            "finished_at",
            "last_error",
            "log",
            "verification",
            "verification_detail",
            "verified_at",
        ]


class RiskDecisionSerializer(serializers.ModelSerializer):
    host_name = serializers.CharField(source="host.name", read_only=True)
    finding_summary = serializers.CharField(source="finding.summary", read_only=True)
    template: serializers.SlugRelatedField[RemediationTemplate] = (
        serializers.SlugRelatedField(slug_field="slug", read_only=True)
    )
    risk_level: serializers.SlugRelatedField[RiskLevel] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    job_run = serializers.SerializerMethodField()

    class Meta:
        model = RiskDecision
        fields = [
            "id",
            "finding",
            "finding_summary",
            "incident",
            "host",
            "host_name",
            "template",
            "parameters",
            "risk_level",
            "status",
            "engine",
            "rationale",
            "deadline",
            "created_at",
            "decided_at",
            "decided_by",
            "decided_via",
            "timed_out",
            "job_run",
        ]

    def get_job_run(self, decision: RiskDecision) -> int | None:
        job_run = getattr(decision, "job_run", None)
        return job_run.pk if job_run else None


class DecisionConflictSerializer(serializers.Serializer):
    """The 409 body when a decision was already decided."""

    detail = serializers.CharField()
    status = serializers.CharField()
