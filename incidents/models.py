from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse


class CollectorKind(models.TextChoices):
    # NOTE: only the local collector exists so far; SSH and pushed agent
    # reports are planned, and a host set to an unknown kind is not probed.
    LOCAL = "local", "This machine"


# Inventory names are also Ansible --limit patterns, so pattern syntax
# (*, !, &, :, commas, brackets) is not allowed. Addresses reach ssh's
# command line, so they may not start with "-".
HOST_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$",
    "Use letters, digits, '_', '.' and '-', starting with a letter or digit.",
)
ADDRESS_VALIDATOR = RegexValidator(
    r"^([A-Za-z0-9_.:\[\]][A-Za-z0-9_.:\[\]-]{0,252})?$",
    "Use a DNS name, an IPv4 address or an IPv6 address.",
)


class Host(models.Model):
    """A monitored machine: a Proxmox node, a VM, an LXC container."""

    name = models.CharField(
        max_length=253,
        unique=True,
        validators=[HOST_NAME_VALIDATOR],
        help_text="Inventory name; playbooks are limited to this name.",
    )
    address = models.CharField(
        max_length=253,
        blank=True,
        validators=[ADDRESS_VALIDATOR],
        help_text="Address for SSH and Ansible; empty for this machine.",
    )
    collector = models.CharField(
        max_length=16, choices=CollectorKind.choices, default=CollectorKind.LOCAL
    )
    enabled = models.BooleanField(default=True)
    is_hypervisor = models.BooleanField(
        default=False,
        help_text="Runs guests; a reboot of this host takes them down too.",
    )
    critical_services = models.JSONField(
        default=list,
        blank=True,
        help_text="Service names that must be running, as a JSON list, e.g. "
        '["sshd", "nginx.service"]. Empty means CRITICAL_SERVICES.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("dashboard:host", args=[self.pk])

    def clean(self) -> None:
        # The local collector probes this machine; a fix sent to an address
        # would land on another machine than the one that was measured.
        local = Host.objects.filter(collector=CollectorKind.LOCAL).exclude(pk=self.pk)
        if self.collector == CollectorKind.LOCAL and local.exists():
            # Two hosts probing this machine would propose every fix twice.
            raise ValidationError(
                {
                    "collector": f"Host {local.first()} already probes this "
                    "machine; only one host can use this collector."
                }
            )
        if self.collector == CollectorKind.LOCAL and self.address:
            raise ValidationError(
                {
                    "address": f"A host probed as this machine must have no address "
                    f"(got {self.address!r}); clear it, or choose another collector."
                }
            )
        services = self.critical_services
        if not isinstance(services, list) or not all(
            isinstance(name, str) and name for name in services
        ):
            raise ValidationError(
                {"critical_services": 'Enter a JSON list of names, e.g. ["sshd"].'}
            )

    @property
    def monitored_services(self) -> list[str]:
        return list(self.critical_services or settings.CRITICAL_SERVICES)


class HealthSnapshot(models.Model):
    """The parsed result of one probe of a host."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(db_index=True)
    reachable = models.BooleanField(default=True)
    error = models.TextField(blank=True)
    cpu_busy_pct = models.FloatField(null=True, blank=True)
    mem_used_pct = models.FloatField(null=True, blank=True)
    max_disk_pct = models.FloatField(null=True, blank=True)
    io_pressure_avg60 = models.FloatField(
        null=True,
        blank=True,
        help_text="Share of time some task waited on I/O; empty when unsupported.",
    )
    systemd_available = models.BooleanField(default=False)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["host", "-taken_at"])]

    def __str__(self) -> str:
        return f"{self.host} at {self.taken_at:%Y-%m-%d %H:%M:%S}"


class FindingKind(models.TextChoices):
    DISK_FULL = "disk_full", "Disk full"
    CPU_HIGH = "cpu_high", "CPU saturated"
    RAM_HIGH = "ram_high", "Memory exhausted"
    RUNAWAY_PROCESS = "runaway_process", "Runaway process"
    SERVICE_DOWN = "service_down", "Critical service not running"
    UNIT_FAILED = "unit_failed", "Failed unit"
    HOST_UNREACHABLE = "host_unreachable", "Host not responding"


class Severity(models.IntegerChoices):
    WARNING = 20, "warning"
    CRITICAL = 30, "critical"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Incident(models.Model):
    """The open problems of one host, grouped until they are all resolved."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=300)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("dashboard:incident", args=[self.pk])


class Finding(models.Model):
    """One problem seen on a host; the fingerprint identifies it across cycles."""

    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="findings")
    kind = models.CharField(max_length=32, choices=FindingKind.choices)
    subject = models.CharField(
        max_length=512, blank=True, help_text="Mount point, process, unit or service."
    )
    fingerprint = models.CharField(max_length=64, db_index=True)
    severity = models.IntegerField(choices=Severity.choices, default=Severity.WARNING)
    summary = models.CharField(max_length=500)
    evidence = models.JSONField(default=dict, blank=True)
    snapshot = models.ForeignKey(
        HealthSnapshot, null=True, blank=True, on_delete=models.SET_NULL
    )
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="findings",
    )
    raised = models.BooleanField(
        default=True,
        help_text="False when the same fingerprint was raised within DEDUP_HOURS.",
    )
    status = models.CharField(
        max_length=16,
        choices=FindingStatus.choices,
        default=FindingStatus.OPEN,
        db_index=True,
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.host}: {self.summary}"


class AuditEvent(models.Model):
    """One entry of an incident's timeline: who or what did what, and how."""

    class Channel(models.TextChoices):
        DASHBOARD = "dashboard", "Dashboard"
        API = "api", "REST API"
        DISCORD = "discord", "Discord"
        TIMEOUT = "timeout", "Deadline task"
        SWEEPER = "sweeper", "Deadline sweeper"
        SYSTEM = "system", "OpsGuard"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150, help_text="User name, or the component.")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    action = models.CharField(max_length=64)
    message = models.TextField(blank=True)
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    decision = models.ForeignKey(
        "approvals.RiskDecision",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"
