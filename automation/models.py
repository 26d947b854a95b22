from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import models

PLAYBOOK_DIR = Path(__file__).resolve().parent / "playbooks"


class ExecutorKind(models.TextChoices):
    LOCAL = "local", "Local ansible-runner"
    AWX = "awx", "AWX"
    SEMAPHORE = "semaphore", "Semaphore UI"


class RemediationTemplate(models.Model):
    """A fix in the catalog; nothing outside the catalog ever runs."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    risk_level = models.ForeignKey(
        "approvals.RiskLevel", on_delete=models.PROTECT, related_name="templates"
    )
    hypervisor_risk_level = models.ForeignKey(
        "approvals.RiskLevel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Risk level instead of the default when the target is a hypervisor.",
    )
    executor = models.CharField(
        max_length=16, choices=ExecutorKind.choices, default=ExecutorKind.LOCAL
    )
    playbook = models.CharField(
        max_length=200, help_text="File name in automation/playbooks."
    )
    parameter_schema = models.JSONField(
        default=dict, blank=True, help_text="JSON Schema the parameters must pass."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        # A template that cannot run would only fail after someone approved it.
        if self.executor != ExecutorKind.LOCAL:
            raise ValidationError(
                {
                    "executor": f"Executor {self.executor!r} is not available "
                    "yet; use local."
                }
            )
        names = {path.name for path in PLAYBOOK_DIR.glob("*.yml")}
        if self.playbook not in names:
            raise ValidationError(
                {
                    "playbook": f"No playbook {self.playbook!r} in "
                    f"automation/playbooks; choose one of {', '.join(sorted(names))}."
                }
            )


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESSFUL = "successful", "Successful"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    CANCELED = "canceled", "Canceled"


class Verification(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    STILL_PRESENT = "still_present", "Still present"
    WORSE = "worse", "Worse"
    UNKNOWN = "unknown", "Could not check"


class JobRun(models.Model):
    """One Ansible job launched for an approved decision; at most one each."""

    decision = models.OneToOneField(
        "approvals.RiskDecision", on_delete=models.CASCADE, related_name="job_run"
    )
    executor = models.CharField(max_length=16, choices=ExecutorKind.choices)
    external_id = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=16, choices=JobState.choices, default=JobState.PENDING
    )
    rc = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    log = models.TextField(blank=True, help_text="Tail of the job's output.")
    verification = models.CharField(
        max_length=16, choices=Verification.choices, blank=True
    )
    verification_detail = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"job for decision {self.decision_id} ({self.state})"
