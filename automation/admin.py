from django.contrib import admin

from incidents.admin import ReadOnlyAdmin

from .models import JobRun, RemediationTemplate


@admin.register(RemediationTemplate)
class RemediationTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "name",
        "risk_level",
        "hypervisor_risk_level",
        "executor",
        "enabled",
    ]
    list_filter = ["executor", "enabled", "risk_level"]


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "decision",
        "executor",
        "state",
        "verification",
        "launched_at",
        "finished_at",
    ]
    list_filter = ["state", "verification", "executor"]
