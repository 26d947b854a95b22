from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from approvals.models import RiskLevel
from automation.seed import seed_register_and_catalog
from incidents.models import CollectorKind, Host


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    # Row locks and concurrent connections are part of what the tests check,
    # and SQLite has neither; refuse to run against it rather than pass falsely.
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        raise pytest.UsageError(
            "The tests need PostgreSQL: run `make test`, or set DATABASE_URL, e.g. "
            "postgres://postgres@127.0.0.1:5432/opsguard"
        )


@pytest.fixture
def register(db: None) -> dict[str, RiskLevel]:
    """Return the seeded risk register by level name, with the catalog seeded."""
    seed_register_and_catalog()
    return {level.name: level for level in RiskLevel.objects.all()}


@pytest.fixture
def local_host(db: None) -> Host:
    return Host.objects.create(name="localhost", collector=CollectorKind.LOCAL)


@pytest.fixture
def shorten_deadlines(register: dict[str, RiskLevel]) -> dict[str, RiskLevel]:
    """Cut every deadline to two seconds, keeping each level's timeout action."""
    RiskLevel.objects.update(timeout_seconds=2)
    return {level.name: level for level in RiskLevel.objects.all()}


@pytest.fixture
def database_vendor() -> str:
    return connection.vendor


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[object]:
    """Run a real Celery worker on the configured broker in a thread."""
    from celery.contrib.testing.worker import start_worker

    from opsguard.celery import app

    app.control.purge()
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=30
    ) as worker:
        yield worker
