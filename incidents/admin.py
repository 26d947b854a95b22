from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from .models import AuditEvent, Finding, HealthSnapshot, Host, Incident


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that lists and shows records but never adds, changes or
    deletes them.

    It is for records that only services write, such as the audit trail and
    risk decisions. A form edit would skip the state machine and its audit
    event, so a pending decision could get a risk level or parameters other
    than those the catalog checked when the decision was proposed.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "address",
        "collector",
        "enabled",
        "is_hypervisor",
        "last_seen_at",
    ]
    list_filter = ["collector", "enabled", "is_hypervisor"]
    search_fields = ["name", "address"]


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "host",
        "taken_at",
        "reachable",
        "cpu_busy_pct",
        "mem_used_pct",
        "max_disk_pct",
    ]
    list_filter = ["reachable", "host"]
    date_hierarchy = "taken_at"


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "host", "status", "opened_at", "resolved_at"]
    list_filter = ["status"]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "host",
        "kind",
        "subject",
        "severity",
        "raised",
        "status",
        "created_at",
    ]
    list_filter = ["kind", "status", "raised", "severity"]
    search_fields = ["summary", "subject", "fingerprint"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "channel", "action", "incident", "decision"]
    list_filter = ["channel", "action"]
