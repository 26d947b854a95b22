"""System checks for settings that can be wrong; `manage.py check` runs them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

LONGEST_DEFAULT_DEADLINE = 3600


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@register()
def check_urls(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not _is_http_url(settings.OPSGUARD_BASE_URL):
        errors.append(
            Error(
                f"OPSGUARD_BASE_URL {settings.OPSGUARD_BASE_URL!r} is not an "
                "http(s) URL.",
                hint="Set it to the dashboard address users open, e.g. "
                "https://opsguard.example.org.",
                id="opsguard.E001",
            )
        )
    webhook = settings.DISCORD_WEBHOOK_URL
    if webhook and not _is_http_url(webhook):
        # The URL carries the webhook token, so the message never shows it.
        errors.append(
            Error(
                "DISCORD_WEBHOOK_URL is not an http(s) URL.",
                hint="Copy the webhook URL from Discord: Server Settings, "
                "Integrations, Webhooks; or leave it empty to disable Discord.",
                id="opsguard.E002",
            )
        )
    return errors


@register()
def check_thresholds(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in (
        "DISK_THRESHOLD_PERCENT",
        "CPU_THRESHOLD_PERCENT",
        "RAM_THRESHOLD_PERCENT",
    ):
        value = getattr(settings, name)
        if not 0 < value <= 100:
            errors.append(
                Error(
                    f"{name} is {value}, outside 0 to 100.",
                    hint=f"Set {name} to a percentage such as 90.",
                    id="opsguard.E003",
                )
            )
    for name in ("COLLECT_INTERVAL", "SWEEP_INTERVAL", "JOB_POLL_SECONDS"):
        if getattr(settings, name) < 1:
            errors.append(
                Error(
                    f"{name} is {getattr(settings, name)}; it must be at least 1.",
                    hint=f"Set {name} in seconds, e.g. 60.",
                    id="opsguard.E004",
                )
            )
    return errors


@register()
def check_visibility_timeout(**kwargs: Any) -> list[CheckMessage]:
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return []
    if settings.CELERY_VISIBILITY_TIMEOUT >= 2 * LONGEST_DEFAULT_DEADLINE:
        return []
    return [
        Warning(
            f"CELERY_VISIBILITY_TIMEOUT is {settings.CELERY_VISIBILITY_TIMEOUT} s, "
            f"below twice the 60-minute high-risk deadline.",
            hint="Redis redelivers an unacknowledged task after this time, and "
            "deadlines later than half of it are left to the sweeper, which "
            "applies them up to SWEEP_INTERVAL late; set it to 7200 or more.",
            id="opsguard.W001",
        )
    ]
