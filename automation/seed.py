"""The risk register and template catalog that a new installation starts with."""

from __future__ import annotations

from typing import Any

from approvals.models import RiskLevel, TimeoutAction

from .models import ExecutorKind, RemediationTemplate

RISK_LEVELS = [
    {
        "name": "low",
        "rank": 10,
        "timeout_seconds": 5 * 60,
        "on_timeout": TimeoutAction.APPROVE,
        "description": "Restart a service, clean up a disk.",
    },
    {
        "name": "medium",
        "rank": 20,
        "timeout_seconds": 15 * 60,
        "on_timeout": TimeoutAction.APPROVE,
        "description": "Reboot a host, kill a process.",
    },
    {
        "name": "high",
        "rank": 30,
        "timeout_seconds": 60 * 60,
        "on_timeout": TimeoutAction.DENY,
        "description": "Migrate a VM, reboot a hypervisor.",
    },
]

_ABSOLUTE_PATH = {"type": "string", "pattern": "^/[^\\0]*$", "maxLength": 4096}

TEMPLATES: list[dict[str, Any]] = [
    {
        "slug": "restart_service",
        "name": "Restart a service",
        "description": "Restart one systemd service on the host.",
        "risk": "low",
        "playbook": "restart_service.yml",
        "parameter_schema": {
            "type": "object",
            "properties": {
                "service": {"type": "string", "pattern": "^[A-Za-z0-9@._-]{1,255}$"}
            },
            "required": ["service"],
            "additionalProperties": False,
        },
    },
    {
        "slug": "disk_cleanup",
        "name": "Clean up a disk",
        "description": "Delete old files in the configured clean-up paths.",
        "risk": "low",
        "playbook": "disk_cleanup.yml",
        "parameter_schema": {
            "type": "object",
            "properties": {
                "mount": _ABSOLUTE_PATH,
                "paths": {"type": "array", "items": _ABSOLUTE_PATH, "minItems": 1},
                "min_age_hours": {"type": "integer", "minimum": 0},
            },
            "required": ["mount", "paths", "min_age_hours"],
            "additionalProperties": False,
        },
    },
    {
        "slug": "kill_process",
        "name": "Kill a process",
        "description": "Stop one process: SIGTERM, then SIGKILL after a grace time.",
        "risk": "medium",
        "playbook": "kill_process.yml",
        "parameter_schema": {
            "type": "object",
            "properties": {
                "pid": {"type": "integer", "minimum": 2},
                "start_ticks": {"type": "integer", "minimum": 0},
                "comm": {"type": "string", "maxLength": 64},
            },
            "required": ["pid", "start_ticks", "comm"],
            "additionalProperties": False,
        },
    },
    {
        "slug": "reboot",
        "name": "Reboot the host",
        "description": "Reboot the host and wait until it answers again.",
        "risk": "medium",
        "hypervisor_risk": "high",
        "playbook": "reboot.yml",
        "parameter_schema": {
            "type": "object",
            "properties": {"reason": {"type": "string", "maxLength": 200}},
            "additionalProperties": False,
        },
    },
]


def seed_register_and_catalog() -> None:
    """Create the default risk levels and templates that do not exist yet;
    rows that exist keep the values an admin gave them."""
    levels = {}
    for level in RISK_LEVELS:
        fields = dict(level)
        levels[level["name"]], _ = RiskLevel.objects.get_or_create(
            name=fields.pop("name"), defaults=fields
        )
    for template in TEMPLATES:
        fields = dict(template)
        risk = levels[fields.pop("risk")]
        hypervisor = fields.pop("hypervisor_risk", None)
        RemediationTemplate.objects.get_or_create(
            slug=fields.pop("slug"),
            defaults={
                **fields,
                "risk_level": risk,
                "hypervisor_risk_level": levels[hypervisor] if hypervisor else None,
                "executor": ExecutorKind.LOCAL,
            },
        )
