"""Tests for the system checks on settings that can be wrong."""

from typing import Any

import pytest
from django.core.checks import ERROR, WARNING, CheckMessage, run_checks

from opsguard.checks import check_thresholds, check_urls, check_visibility_timeout

# A fake webhook: the token must never appear in a check message.
FAKE_TOKEN = "fake-webhook-token-4d1c9a"


@pytest.fixture(autouse=True)
def valid_settings(settings: Any) -> None:
    settings.OPSGUARD_BASE_URL = "http://127.0.0.1:8000"
    settings.DISCORD_WEBHOOK_URL = ""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    settings.CELERY_VISIBILITY_TIMEOUT = 7200


def ids(messages: list[CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def full_text(message: CheckMessage) -> str:
    return f"{message.msg} {message.hint}"


def test_valid_settings_pass():
    assert check_urls() == []
    assert check_thresholds() == []
    assert check_visibility_timeout() == []


@pytest.mark.parametrize(
    "url", ["", "127.0.0.1:8000", "ftp://127.0.0.1/", "http://"], ids=repr
)
def test_bad_base_url_e001(settings, url):
    settings.OPSGUARD_BASE_URL = url

    [error] = check_urls()

    assert error.id == "opsguard.E001"
    assert error.level == ERROR
    assert f"OPSGUARD_BASE_URL {url!r} is not an http(s) URL" in error.msg


@pytest.mark.parametrize(
    "url",
    [
        f"127.0.0.1/api/webhooks/123/{FAKE_TOKEN}",
        f"ftp://127.0.0.1/api/webhooks/123/{FAKE_TOKEN}",
        f"http:///api/webhooks/123/{FAKE_TOKEN}",
    ],
    ids=["no scheme", "ftp", "no host"],
)
def test_bad_webhook_e002_hides_token(settings, url):
    settings.DISCORD_WEBHOOK_URL = url

    [error] = check_urls()

    assert error.id == "opsguard.E002"
    assert "DISCORD_WEBHOOK_URL" in error.msg
    assert FAKE_TOKEN not in full_text(error)
    assert "/api/webhooks" not in full_text(error)


def test_https_webhook_accepted(settings):
    settings.DISCORD_WEBHOOK_URL = f"https://127.0.0.1/api/webhooks/123/{FAKE_TOKEN}"

    assert check_urls() == []


@pytest.mark.parametrize(
    "name", ["DISK_THRESHOLD_PERCENT", "CPU_THRESHOLD_PERCENT", "RAM_THRESHOLD_PERCENT"]
)
@pytest.mark.parametrize("value", [0, -5.0, 100.5, 150])
def test_bad_threshold_e003(settings, name, value):
    setattr(settings, name, value)

    [error] = check_thresholds()

    assert error.id == "opsguard.E003"
    assert error.msg == f"{name} is {value}, outside 0 to 100."
    assert name in error.hint


@pytest.mark.parametrize("value", [0.1, 100])
def test_threshold_bounds_accepted(settings, value):
    settings.DISK_THRESHOLD_PERCENT = value

    assert check_thresholds() == []


@pytest.mark.parametrize(
    "name", ["COLLECT_INTERVAL", "SWEEP_INTERVAL", "JOB_POLL_SECONDS"]
)
def test_bad_interval_e004(settings, name):
    setattr(settings, name, 0)

    [error] = check_thresholds()

    assert error.id == "opsguard.E004"
    assert error.msg == f"{name} is 0; it must be at least 1."


def test_every_bad_setting_reported(settings):
    settings.DISK_THRESHOLD_PERCENT = 0
    settings.RAM_THRESHOLD_PERCENT = 101
    settings.SWEEP_INTERVAL = -1

    assert ids(check_thresholds()) == [
        "opsguard.E003",
        "opsguard.E003",
        "opsguard.E004",
    ]


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:6379/0", "rediss://127.0.0.1/0"])
def test_short_visibility_timeout_w001(settings, broker):
    settings.CELERY_BROKER_URL = broker
    settings.CELERY_VISIBILITY_TIMEOUT = 3600

    [warning] = check_visibility_timeout()

    assert warning.id == "opsguard.W001"
    assert warning.level == WARNING
    assert "CELERY_VISIBILITY_TIMEOUT is 3600 s" in warning.msg
    assert "7200" in warning.hint


def test_visibility_timeout_7200_accepted(settings):
    settings.CELERY_VISIBILITY_TIMEOUT = 7200

    assert check_visibility_timeout() == []


def test_visibility_timeout_ignored_off_redis(settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_VISIBILITY_TIMEOUT = 3600

    assert check_visibility_timeout() == []


def test_checks_registered(settings):
    settings.OPSGUARD_BASE_URL = "not a url"
    settings.CPU_THRESHOLD_PERCENT = 0
    settings.CELERY_VISIBILITY_TIMEOUT = 60

    found = set(ids(run_checks()))

    assert {"opsguard.E001", "opsguard.E003", "opsguard.W001"} <= found
