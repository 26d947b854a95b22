"""Template filters of the dashboard pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()

# Audit actions whose label is more than the action with its first letter
# capitalised and underscores replaced by spaces.
ACTION_LABELS = {
    "manual": "Manual intervention",
}


@register.filter
def pretty_json(value: Any) -> str:
    """Return value as indented JSON. The result is plain text, so the
    template still escapes it."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def iso_utc(value: datetime | None) -> str:
    """Return an aware datetime as ISO 8601 UTC with a Z suffix: the ECMAScript
    date-time string format, which Date.parse must accept."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@register.filter
def is_past(value: datetime | None) -> bool:
    """Return True when an aware datetime is now or earlier, False for None."""
    if not isinstance(value, datetime):
        return False
    return value <= timezone.now()


@register.filter
def action_label(action: str) -> str:
    """Return the label of an audit action, e.g. "Incident opened" for
    incident_opened."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    words = action.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


@register.filter
def percent(value: Any) -> str:
    """Return a percentage with one decimal, or an em dash when not measured."""
    number = _number(value)
    if number is None:
        return "\u2014"
    return f"{number:.1f}\u00a0%"


@register.filter
def kib(value: Any) -> str:
    """Return a size given in KiB in the largest binary unit that keeps it >= 1."""
    size = _number(value)
    if size is None:
        return "\u2014"
    units = ["KiB", "MiB", "GiB", "TiB"]
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{size:.1f}\u00a0{units[index]}"


def _number(value: Any) -> float | None:
    # Report values come from a stored JSON document, so a field may be
    # missing or, from an older probe, not a number at all.
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
