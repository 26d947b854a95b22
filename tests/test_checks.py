"""Tests for the system checks on settings that can be wrong."""

from typing import Any

import pytest
from django.core.checks import ERROR, WARNING, CheckMessage, run_checks

from opsguard.checks import (
    check_cleanup_paths,
    check_minimums,
    check_probe_timeout,
    check_thresholds,
    check_urls,
    check_visibility_timeout,
    check_web_server,
)

# A fake webhook: the token must never appear in a check message.
FAKE_TOKEN = "fake-webhook-token-4d1c9a"


@pytest.fixture(autouse=True)
def valid_settings(settings: Any) -> None:
    settings.OPSGUARD_BASE_URL = "http://127.0.0.1:8000"
    settings.DISCORD_WEBHOOK_URL = ""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    settings.CELERY_VISIBILITY_TIMEOUT = 7200
    settings.PROBE_SAMPLE_SECONDS = 1.0
    settings.PROBE_TIMEOUT = 30
    settings.HTTP_TIMEOUT = 10.0
    settings.RUNAWAY_CPU_PERCENT = 90.0
    settings.SUSTAIN_SECONDS = 300
    settings.DEDUP_HOURS = 8.0
    settings.DISK_CLEANUP_MIN_AGE_HOURS = 24
    settings.DISK_CLEANUP_PATHS = ["/tmp", "/var/tmp"]


def ids(messages: list[CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def full_text(message: CheckMessage) -> str:
    return f"{message.msg} {message.hint}"


def test_valid_settings_pass():
    assert check_urls() == []
    assert check_thresholds() == []
    assert check_visibility_timeout() == []
    assert check_minimums() == []
    assert check_probe_timeout() == []
    assert check_cleanup_paths() == []


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


# These URLs are never requested: the checks only parse them.
@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/123/{FAKE_TOKEN}",
        f"https://discordapp.com/api/webhooks/123/{FAKE_TOKEN}",
        f"https://ptb.discord.com/api/webhooks/123/{FAKE_TOKEN}",
        f"https://discord.com/api/v10/webhooks/123/{FAKE_TOKEN}?wait=true",
        f"https://Discord.com/api/webhooks/123/{FAKE_TOKEN}/",
    ],
    ids=["discord.com", "discordapp.com", "ptb", "api version", "case and slash"],
)
def test_discord_webhook_accepted(settings, url):
    settings.DISCORD_WEBHOOK_URL = url

    assert check_urls() == []


@pytest.mark.parametrize(
    "url",
    [
        f"http://localhost:8080/{FAKE_TOKEN}",
        f"http://[::1]:8080/hooks/{FAKE_TOKEN}",
        f"http://127.0.0.2/{FAKE_TOKEN}",
    ],
    ids=["localhost", "ipv6", "127.0.0.2"],
)
def test_loopback_webhook_not_warned(settings, url):
    settings.DISCORD_WEBHOOK_URL = url

    assert check_urls() == []


@pytest.mark.parametrize(
    "host", ["proxy.example.invalid", "discord.com.example.invalid", "10.0.0.5"]
)
def test_foreign_webhook_host_w002(settings, host):
    settings.DISCORD_WEBHOOK_URL = f"https://{host}/api/webhooks/123/{FAKE_TOKEN}"

    [warning] = check_urls()

    assert warning.id == "opsguard.W002"
    assert warning.level == WARNING
    assert warning.msg == (
        f"DISCORD_WEBHOOK_URL points to the host {host!r}, not to discord.com "
        "or discordapp.com."
    )
    assert FAKE_TOKEN not in full_text(warning)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/hooks/123/{FAKE_TOKEN}",
        f"/api/webhooks/abc/{FAKE_TOKEN}",
        "/api/webhooks/123",
        f"/channels/123/{FAKE_TOKEN}",
    ],
    ids=["hooks", "id not numeric", "no token", "channel"],
)
def test_bad_webhook_path_w002(settings, path):
    settings.DISCORD_WEBHOOK_URL = f"https://discord.com{path}"

    [warning] = check_urls()

    assert warning.id == "opsguard.W002"
    assert "/api/webhooks/ID/TOKEN" in warning.msg
    assert FAKE_TOKEN not in full_text(warning)


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


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("JOB_TIMEOUT_SECONDS", "seconds"),
        ("PROBE_TIMEOUT", "seconds"),
        ("SNAPSHOT_RETENTION_DAYS", "days"),
    ],
)
@pytest.mark.parametrize("value", [0, -1])
def test_bad_minimum_one_e004(settings, name, unit, value):
    setattr(settings, name, value)

    [error] = check_thresholds()

    assert error.id == "opsguard.E004"
    assert error.msg == f"{name} is {value}; it must be at least 1."
    assert error.hint.startswith(f"Set {name} in {unit}, e.g. ")


@pytest.mark.parametrize(
    "name", ["PROBE_SAMPLE_SECONDS", "HTTP_TIMEOUT", "RUNAWAY_CPU_PERCENT"]
)
@pytest.mark.parametrize("value", [0, -1.0])
def test_not_positive_e005(settings, name, value):
    setattr(settings, name, value)

    [error] = check_minimums()

    assert error.id == "opsguard.E005"
    assert error.level == ERROR
    assert error.msg == f"{name} is {value}; it must be above 0."
    assert name in error.hint


def test_runaway_above_100_accepted(settings):
    # A process with several busy threads uses more than one core.
    settings.RUNAWAY_CPU_PERCENT = 250.0

    assert check_minimums() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUSTAIN_SECONDS", -1),
        ("DEDUP_HOURS", -0.5),
        ("DISK_CLEANUP_MIN_AGE_HOURS", -1),
    ],
)
def test_negative_e006(settings, name, value):
    setattr(settings, name, value)

    [error] = check_minimums()

    assert error.id == "opsguard.E006"
    assert error.msg == f"{name} is {value}; it must be 0 or more."
    assert name in error.hint


@pytest.mark.parametrize(
    "name", ["SUSTAIN_SECONDS", "DEDUP_HOURS", "DISK_CLEANUP_MIN_AGE_HOURS"]
)
def test_zero_minimum_accepted(settings, name):
    setattr(settings, name, 0)

    assert check_minimums() == []


@pytest.mark.parametrize(("timeout", "sample"), [(1, 1.0), (5, 10.0), (0, 1.0)])
def test_probe_timeout_short_e007(settings, timeout, sample):
    settings.PROBE_TIMEOUT = timeout
    settings.PROBE_SAMPLE_SECONDS = sample

    [error] = check_probe_timeout()

    assert error.id == "opsguard.E007"
    assert error.msg == (
        f"PROBE_TIMEOUT is {timeout} s, not longer than PROBE_SAMPLE_SECONDS "
        f"({sample} s)."
    )


def test_probe_timeout_longer_accepted(settings):
    settings.PROBE_TIMEOUT = 2
    settings.PROBE_SAMPLE_SECONDS = 1.5

    assert check_probe_timeout() == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/", "a system folder whose old files are not disposable"),
        ("//", "a system folder whose old files are not disposable"),
        ("/./", "a system folder whose old files are not disposable"),
        ("/etc", "a system folder whose old files are not disposable"),
        ("/var/", "a system folder whose old files are not disposable"),
        ("/home", "a system folder whose old files are not disposable"),
        ("tmp", "which is not an absolute path"),
        ("./cache", "which is not an absolute path"),
        ("/tmp/../etc", "which contains '..'"),
        ("/var/tmp/..", "which contains '..'"),
    ],
)
def test_bad_cleanup_path_e008(settings, path, problem):
    settings.DISK_CLEANUP_PATHS = ["/tmp", path]

    [error] = check_cleanup_paths()

    assert error.id == "opsguard.E008"
    assert error.msg == f"DISK_CLEANUP_PATHS contains {path!r}, {problem}."
    assert "DISK_CLEANUP_PATHS=/tmp,/var/tmp" in error.hint


@pytest.mark.parametrize("path", ["/srv/cache", "/var/log/myapp", "/home/app/tmp"])
def test_cleanup_subfolder_accepted(settings, path):
    settings.DISK_CLEANUP_PATHS = [path]

    assert check_cleanup_paths() == []


def test_each_bad_path_reported(settings):
    settings.DISK_CLEANUP_PATHS = ["/", "tmp", "/tmp"]

    assert ids(check_cleanup_paths()) == ["opsguard.E008", "opsguard.E008"]


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
    settings.HTTP_TIMEOUT = 0
    settings.DEDUP_HOURS = -1
    settings.PROBE_SAMPLE_SECONDS = 60.0
    settings.DISK_CLEANUP_PATHS = ["/"]
    settings.DISCORD_WEBHOOK_URL = "https://proxy.example.invalid/hook"

    found = set(ids(run_checks()))

    assert {"opsguard.E001", "opsguard.E003", "opsguard.W001"} <= found
    assert {"opsguard.E005", "opsguard.E006", "opsguard.E007"} <= found
    assert {"opsguard.E008", "opsguard.W002"} <= found


def test_empty_allowed_hosts_e009(settings):
    settings.ALLOWED_HOSTS = []

    ids = [message.id for message in check_web_server()]

    assert ids == ["opsguard.E009"]


@pytest.mark.parametrize("listen", ["foo", "foo:bar", ":8000", "127.0.0.1:70000"])
def test_bad_listen_address_e010(monkeypatch, listen):
    monkeypatch.setenv("OPSGUARD_LISTEN", listen)

    [error] = check_web_server()

    assert error.id == "opsguard.E010"
    assert repr(listen) in error.msg


def test_listen_address_accepted(monkeypatch):
    monkeypatch.setenv("OPSGUARD_LISTEN", "127.0.0.1:8765")

    assert check_web_server() == []
