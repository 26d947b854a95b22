from django.contrib import admin

from .models import Notification, RiskDecision, RiskLevel


@admin.register(RiskLevel)
class RiskLevelAdmin(admin.ModelAdmin):
    list_display = ["name", "rank", "timeout_seconds", "on_timeout"]


@admin.register(RiskDecision)
class RiskDecisionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "host",
        "template",
        "risk_level",
        "status",
        "deadline",
        "decided_by",
        "decided_via",
    ]
    list_filter = ["status", "risk_level", "decided_via"]
    # Status changes go through the state machine, never through a form.
    readonly_fields = ["status", "decided_at", "decided_by", "decided_via", "timed_out"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "channel",
        "kind",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "kind"]
