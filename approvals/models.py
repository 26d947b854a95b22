from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse


class TimeoutAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    DENY = "deny", "Deny"


class RiskLevel(models.Model):
    """A row of the risk register: how long a human has, and what happens then."""

    name = models.SlugField(max_length=32, unique=True)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="Higher is riskier.")
    timeout_seconds = models.PositiveIntegerField(
        validators=[MinValueValidator(60), MaxValueValidator(7 * 24 * 3600)],
        help_text="Seconds a human has to answer, from 60 (1 minute) to 604800 "
        "(7 days).",
    )
    on_timeout = models.CharField(max_length=16, choices=TimeoutAction.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name

    @property
    def permission_codename(self) -> str:
        return f"approve_{self.name}"


class DecisionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    DENIED = "denied", "Denied"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    MANUAL = "manual", "Manual intervention"


class RiskDecision(models.Model):
    """A proposed fix for a finding, and the human or deadline decision on it."""

    finding = models.ForeignKey(
        "incidents.Finding", on_delete=models.CASCADE, related_name="decisions"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="decisions"
    )
    host = models.ForeignKey(
        "incidents.Host", on_delete=models.PROTECT, related_name="decisions"
    )
    template = models.ForeignKey(
        "automation.RemediationTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
    )
    parameters = models.JSONField(default=dict, blank=True)
    risk_level = models.ForeignKey(
        RiskLevel, null=True, blank=True, on_delete=models.PROTECT
    )
    status = models.CharField(
        max_length=16,
        choices=DecisionStatus.choices,
        default=DecisionStatus.PENDING,
        db_index=True,
    )
    engine = models.CharField(max_length=32, default="rules")
    rationale = models.TextField(blank=True)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_via = models.CharField(max_length=16, blank=True)
    timed_out = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("approve_low", "Can approve low-risk decisions"),
            ("approve_medium", "Can approve medium-risk decisions"),
            ("approve_high", "Can approve high-risk decisions"),
        ]

    def __str__(self) -> str:
        action = self.template.slug if self.template else "manual intervention"
        return f"#{self.pk} {action} on {self.host}"

    def get_absolute_url(self) -> str:
        return reverse("dashboard:decision", args=[self.pk])


class Notification(models.Model):
    """One message to a channel, with its delivery attempts."""

    class Kind(models.TextChoices):
        CYCLE = "cycle", "Cycle summary"
        RESULT = "result", "Result"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.CharField(max_length=16, default="discord")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    decisions = models.ManyToManyField(RiskDecision, related_name="notifications")
    payload = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    external_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} #{self.pk} ({self.status})"
