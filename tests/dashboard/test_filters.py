from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from opsguard.templatetags.dashboard import action_label, is_past


@pytest.mark.parametrize(
    ("action", "label"),
    [
        ("incident_opened", "Incident opened"),
        ("finding_raised", "Finding raised"),
        ("incident_resolved", "Incident resolved"),
        ("proposed", "Proposed"),
        ("approved", "Approved"),
        ("rejected", "Rejected"),
        ("denied", "Denied"),
        ("running", "Running"),
        ("succeeded", "Succeeded"),
        ("failed", "Failed"),
        ("manual", "Manual intervention"),
        ("", ""),
    ],
)
def test_action_label(action: str, label: str) -> None:
    assert action_label(action) == label


def test_is_past_before_now() -> None:
    assert is_past(timezone.now() - timedelta(seconds=1))


def test_is_past_after_now() -> None:
    assert not is_past(timezone.now() + timedelta(minutes=1))


def test_is_past_exact_now() -> None:
    assert is_past(datetime.now(UTC))


def test_is_past_without_deadline() -> None:
    assert not is_past(None)
