"""A real ext4 filesystem, filled past 90 %, cleaned by disk_cleanup."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from approvals.models import DecisionStatus, RiskDecision
from automation.models import JobRun, Verification
from incidents.cycle import run_cycle
from tests.e2e.conftest import reject_others, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TWO_DAYS = 48 * 3600


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """Mount a 64 MiB ext4 filesystem from a loop file."""
    if os.geteuid() != 0:
        pytest.skip("mounting a loop filesystem needs root")
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is not installed (Debian package e2fsprogs)")
    image, mount = tmp_path / "disk.img", tmp_path / "mnt"
    mount.mkdir()
    with image.open("wb") as file:
        file.truncate(64 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a loop filesystem here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> Path:
    """Fill the filesystem past 90 % with files two days old; return their folder."""
    cache = mount / "cache"
    cache.mkdir()
    old = time.time() - TWO_DAYS
    index = 0
    while shutil.disk_usage(mount).used / shutil.disk_usage(mount).total < 0.95:
        path = cache / f"blob-{index}"
        path.write_bytes(os.urandom(1024 * 1024))
        os.utime(path, (old, old))
        index += 1
    return cache


def test_full_disk_cleaned(
    shorten_deadlines,
    local_host,
    discord,
    fast_loop,
    small_filesystem,
    settings,
    celery_worker,
):
    cache = fill(small_filesystem)
    settings.DISK_CLEANUP_PATHS = [str(cache)]
    target = str(small_filesystem)

    run_cycle()
    reject_others(lambda d: d.parameters.get("mount") == target)
    decision = RiskDecision.objects.get(
        template__slug="disk_cleanup", finding__subject=target
    )
    assert decision.risk_level.name == "low"
    assert decision.parameters["paths"] == [str(cache)]

    wait_for(
        lambda: RiskDecision.objects.get(pk=decision.pk).status
        in (DecisionStatus.SUCCEEDED, DecisionStatus.FAILED),
        120,
        "the disk_cleanup decision to finish",
    )
    decision.refresh_from_db()
    job = JobRun.objects.get(decision=decision)
    usage = shutil.disk_usage(small_filesystem)

    assert job.state == "successful", job.log[-2000:]
    assert job.verification == Verification.RESOLVED
    assert decision.status == DecisionStatus.SUCCEEDED
    assert usage.used / usage.total < 0.5
    assert list(cache.iterdir()) == []
