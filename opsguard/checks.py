"""System checks for settings that can be wrong; `manage.py check` runs them."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

LONGEST_DEFAULT_DEADLINE = 3600

DISCORD_HOSTS = ("discord.com", "discordapp.com")
# Discord's "Copy Webhook URL" gives /api/webhooks/ID/TOKEN, and the API also
# takes a version segment, /api/v10/webhooks/ID/TOKEN. Discohook's webhook URL
# pattern accepts the same paths and the ptb. and canary. hosts.
DISCORD_WEBHOOK_PATH = re.compile(r"/api(/v\d+)?/webhooks/\d+/[\w-]+/?")

# Folders whose old files are not disposable: disk_cleanup in one of them
# would delete configuration, programs or data.
SYSTEM_FOLDERS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/usr",
        "/var",
    }
)


class Bound(NamedTuple):
    """A numeric setting with its unit and a valid example for the hint."""

    name: str
    unit: str
    example: float


# Whole numbers that must be at least 1.
AT_LEAST_ONE = (
    Bound("COLLECT_INTERVAL", "seconds", 60),
    Bound("SWEEP_INTERVAL", "seconds", 30),
    Bound("JOB_POLL_SECONDS", "seconds", 20),
    Bound("JOB_TIMEOUT_SECONDS", "seconds", 1800),
    Bound("PROBE_TIMEOUT", "seconds", 30),
    Bound("SNAPSHOT_RETENTION_DAYS", "days", 14),
)
ABOVE_ZERO = (
    Bound("PROBE_SAMPLE_SECONDS", "seconds", 1),
    Bound("HTTP_TIMEOUT", "seconds", 10),
    Bound("RUNAWAY_CPU_PERCENT", "percent of one CPU core", 90),
)
ZERO_OR_MORE = (
    Bound("SUSTAIN_SECONDS", "seconds", 300),
    Bound("DEDUP_HOURS", "hours", 8),
    Bound("DISK_CLEANUP_MIN_AGE_HOURS", "hours", 24),
)


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
    elif webhook:
        errors.extend(_check_discord_webhook(urlsplit(webhook)))
    return errors


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_discord_host(host: str) -> bool:
    return any(host == name or host.endswith("." + name) for name in DISCORD_HOSTS)


def _check_discord_webhook(parts: SplitResult) -> list[CheckMessage]:
    # A proxy in front of Discord, or a fake Discord on this machine, is a
    # valid set-up, so an unusual URL is only a warning. The messages show
    # the host, never the path, because the path ends with the token.
    host = (parts.hostname or "").lower()
    if _is_loopback(host):
        return []
    hint = (
        "Copy the webhook URL from Discord: Server Settings, Integrations, "
        "Webhooks. Ignore this warning if the URL is a proxy that forwards to "
        "Discord."
    )
    if not _is_discord_host(host):
        return [
            Warning(
                f"DISCORD_WEBHOOK_URL points to the host {host!r}, not to "
                "discord.com or discordapp.com.",
                hint=hint,
                id="opsguard.W002",
            )
        ]
    if not DISCORD_WEBHOOK_PATH.fullmatch(parts.path):
        return [
            Warning(
                "DISCORD_WEBHOOK_URL does not have the path of a Discord webhook, "
                "/api/webhooks/ID/TOKEN.",
                hint=hint,
                id="opsguard.W002",
            )
        ]
    return []


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
    errors += _bound_errors(AT_LEAST_ONE, lambda v: v >= 1, "at least 1", "E004")
    return errors


def _bound_errors(
    bounds: Sequence[Bound],
    is_valid: Callable[[float], bool],
    rule: str,
    check_id: str,
) -> list[CheckMessage]:
    """Return one error for each setting in `bounds` whose value breaks `rule`."""
    errors: list[CheckMessage] = []
    for bound in bounds:
        value = getattr(settings, bound.name)
        if not is_valid(value):
            errors.append(
                Error(
                    f"{bound.name} is {value}; it must be {rule}.",
                    hint=_hint(bound),
                    id=f"opsguard.{check_id}",
                )
            )
    return errors


def _hint(bound: Bound) -> str:
    return f"Set {bound.name} in {bound.unit}, e.g. {bound.example}."


@register()
def check_minimums(**kwargs: Any) -> list[CheckMessage]:
    return _bound_errors(
        ABOVE_ZERO, lambda v: v > 0, "above 0", "E005"
    ) + _bound_errors(ZERO_OR_MORE, lambda v: v >= 0, "0 or more", "E006")


@register()
def check_probe_timeout(**kwargs: Any) -> list[CheckMessage]:
    timeout = settings.PROBE_TIMEOUT
    sample = settings.PROBE_SAMPLE_SECONDS
    if timeout > sample:
        return []
    return [
        Error(
            f"PROBE_TIMEOUT is {timeout} s, not longer than PROBE_SAMPLE_SECONDS "
            f"({sample} s).",
            hint="The probe measures CPU use for PROBE_SAMPLE_SECONDS before it "
            "reports, so every probe would time out; set PROBE_TIMEOUT well "
            "above it, e.g. 30.",
            id="opsguard.E007",
        )
    ]


@register()
def check_cleanup_paths(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for path in settings.DISK_CLEANUP_PATHS:
        problem = _cleanup_path_problem(path)
        if problem:
            errors.append(
                Error(
                    f"DISK_CLEANUP_PATHS contains {path!r}, {problem}.",
                    hint="List absolute folders that hold only disposable files, "
                    "e.g. DISK_CLEANUP_PATHS=/tmp,/var/tmp.",
                    id="opsguard.E008",
                )
            )
    return errors


def _cleanup_path_problem(path: str) -> str:
    """Return why disk_cleanup must not use `path`, or "" if it may."""
    if not path.startswith("/"):
        return "which is not an absolute path"
    if ".." in path:
        # The clean-up playbook rejects any path containing "..", so every
        # clean-up in this path would fail.
        return "which contains '..'"
    parts = [part for part in path.split("/") if part and part != "."]
    if "/" + "/".join(parts) in SYSTEM_FOLDERS:
        return "a system folder whose old files are not disposable"
    return ""


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


@register()
def check_web_server(**kwargs: Any) -> list[CheckMessage]:
    """Check what the web server of `make run` needs, before the worker and
    beat start without it."""
    errors: list[CheckMessage] = []
    if not settings.ALLOWED_HOSTS:
        errors.append(
            Error(
                "ALLOWED_HOSTS is empty, so the dashboard would reject every "
                "request with HTTP 400.",
                hint="Set ALLOWED_HOSTS to the names users open, e.g. "
                "127.0.0.1,localhost,opsguard.example.org.",
                id="opsguard.E009",
            )
        )
    listen = os.environ.get("OPSGUARD_LISTEN", "")
    host, _, port = listen.rpartition(":")
    if listen and not (host and port.isdigit() and 0 < int(port) < 65536):
        errors.append(
            Error(
                f"OPSGUARD_LISTEN {listen!r} is not an address and port.",
                hint="Set it as HOST:PORT, e.g. 127.0.0.1:8000.",
                id="opsguard.E010",
            )
        )
    return errors
