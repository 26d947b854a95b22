import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import close_old_connections

from approvals import services
from approvals.models import DecisionStatus, RiskDecision
from tests.fakes.discord import FakeDiscord


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns a true value; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def reject_others(keep: Callable[[RiskDecision], bool]) -> None:
    """Reject pending decisions the test did not cause.

    The probe reads the real machine, so other busy processes or full disks
    may get decisions too. Rejecting them keeps the test from acting on them.
    """
    from django.contrib.auth.models import User

    robot, _ = User.objects.get_or_create(username="e2e", is_superuser=True)
    for decision in RiskDecision.objects.filter(status=DecisionStatus.PENDING):
        if not keep(decision):
            services.reject(decision.pk, robot, "dashboard")


@pytest.fixture
def discord(settings: Any) -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        settings.DISCORD_WEBHOOK_URL = fake.webhook_url
        yield fake


@pytest.fixture
def fast_loop(settings: Any) -> None:
    settings.JOB_POLL_SECONDS = 1
    settings.PROBE_SAMPLE_SECONDS = 1.0
    settings.SUSTAIN_SECONDS = 2


@pytest.fixture
def burner() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
