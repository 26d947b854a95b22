from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Finding, HealthSnapshot
from incidents.services import prune_snapshots

pytestmark = pytest.mark.django_db


def test_prune_keeps_recent_snapshots(local_host, settings):
    settings.SNAPSHOT_RETENTION_DAYS = 14
    now = timezone.now()
    old = HealthSnapshot.objects.create(
        host=local_host, taken_at=now - timedelta(days=15)
    )
    recent = HealthSnapshot.objects.create(
        host=local_host, taken_at=now - timedelta(days=1)
    )
    finding = Finding.objects.create(
        host=local_host, kind="disk_full", fingerprint="x", summary="full", snapshot=old
    )

    assert prune_snapshots() == 1
    assert HealthSnapshot.objects.filter(pk=recent.pk).exists()
    assert not HealthSnapshot.objects.filter(pk=old.pk).exists()
    finding.refresh_from_db()
    assert finding.snapshot is None


def test_prune_drops_old_repeats(local_host, settings):
    settings.SNAPSHOT_RETENTION_DAYS = 14
    old = timezone.now() - timedelta(days=15)
    repeat = Finding.objects.create(
        host=local_host, kind="disk_full", fingerprint="x", summary="full", raised=False
    )
    raised = Finding.objects.create(
        host=local_host, kind="disk_full", fingerprint="x", summary="full"
    )
    Finding.objects.filter(pk__in=[repeat.pk, raised.pk]).update(created_at=old)

    prune_snapshots()

    assert not Finding.objects.filter(pk=repeat.pk).exists()
    assert Finding.objects.filter(pk=raised.pk).exists()
