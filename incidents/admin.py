from django.contrib import admin

from .models import AuditEvent, Finding, HealthSnapshot, Host, Incident


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
class HealthSnapshotAdmin(admin.ModelAdmin):
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
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "host", "status", "opened_at", "resolved_at"]
    list_filter = ["status"]


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
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
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "channel", "action", "incident", "decision"]
    list_filter = ["channel", "action"]

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
