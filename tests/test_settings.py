from datetime import UTC

import pytest
from django.conf import settings

from opsguard.celery import app
from tests.factories import make_decision

HIGH_RISK_DEADLINE = 3600


def test_redis_visibility_above_deadlines():
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("the suite runs on another broker; `make test` uses Redis")
    options = app.conf.broker_transport_options

    assert options["visibility_timeout"] >= 2 * HIGH_RISK_DEADLINE


@pytest.mark.django_db
def test_deadline_is_aware_utc(register, local_host):
    decision = make_decision(local_host)

    assert decision.deadline is not None
    assert decision.deadline.tzinfo is not None
    assert decision.deadline.utcoffset() == UTC.utcoffset(None)
