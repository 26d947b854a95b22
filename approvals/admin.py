from django.contrib import admin

from incidents.admin import ReadOnlyAdmin

from .models import Notification, RiskDecision, RiskLevel


@admin.register(RiskLevel)
class RiskLevelAdmin(admin.ModelAdmin):
    list_display = ["name", "rank", "timeout_seconds", "on_timeout"]


@admin.register(RiskDecision)
class RiskDecisionAdmin(ReadOnlyAdmin):
    # Decisions change only through the state machine in approvals.services,
    # which the dashboard, Discord, the API and the deadline task call.
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


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
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
