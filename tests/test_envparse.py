"""Tests for the strict readers of settings in environment variables."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from opsguard.envparse import (
    read_bool,
    read_choice,
    read_database_url,
    read_float,
    read_int,
    read_list,
    read_secret,
    read_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Fake secrets: they must never appear in an error message.
FAKE_SECRET = "fake-secret-value-7b2e"
FAKE_PASSWORD = "fake-db-password-91c3"


def error_text(excinfo: pytest.ExceptionInfo[ImproperlyConfigured]) -> str:
    return str(excinfo.value)


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_empty_value_gives_default(monkeypatch, value):
    monkeypatch.setenv("OPSGUARD_TEST_VALUE", value)

    assert read_int("OPSGUARD_TEST_VALUE", default=300) == 300
    assert read_float("OPSGUARD_TEST_VALUE", default=1.5) == 1.5
    assert read_bool("OPSGUARD_TEST_VALUE", default=True) is True
    assert read_choice("OPSGUARD_TEST_VALUE", "INFO", LEVELS) == "INFO"
    assert read_str("OPSGUARD_TEST_VALUE", default="x") == "x"


def test_unset_gives_default(monkeypatch):
    monkeypatch.delenv("OPSGUARD_TEST_VALUE", raising=False)

    assert read_int("OPSGUARD_TEST_VALUE", default=7) == 7
    assert read_secret("OPSGUARD_TEST_VALUE", default="d") == "d"


@pytest.mark.parametrize(
    ("raw", "expected"), [("300", 300), (" 42 ", 42), ("-1", -1), ("+5", 5)]
)
def test_read_int_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv("SUSTAIN_SECONDS", raw)

    assert read_int("SUSTAIN_SECONDS", default=300) == expected


def test_read_int_message(monkeypatch):
    monkeypatch.setenv("SUSTAIN_SECONDS", "ten")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_int("SUSTAIN_SECONDS", default=300, expected="a whole number of seconds")

    assert error_text(excinfo) == (
        "SUSTAIN_SECONDS='ten' is not a whole number of seconds; "
        "set e.g. SUSTAIN_SECONDS=300"
    )


# "\u0663\u0660" is 30 in Arabic-Indic digits, which int() accepts.
@pytest.mark.parametrize(
    "raw", ["ten", "9O", "8.5.1", "3.5", "1_000", "0x10", "3e2", "\u0663\u0660"]
)
def test_read_int_rejects(monkeypatch, raw):
    monkeypatch.setenv("SUSTAIN_SECONDS", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_int("SUSTAIN_SECONDS", default=300)

    assert f"SUSTAIN_SECONDS={raw!r}" in error_text(excinfo)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("90", 90.0), ("8.5", 8.5), (".5", 0.5), ("5.", 5.0), ("-1", -1.0), ("1e2", 100)],
)
def test_read_float_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv("DISK_THRESHOLD_PERCENT", raw)

    assert read_float("DISK_THRESHOLD_PERCENT", default=90.0) == expected


def test_read_float_message(monkeypatch):
    monkeypatch.setenv("DISK_THRESHOLD_PERCENT", "abc")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_float("DISK_THRESHOLD_PERCENT", default=90.0, expected="a percentage")

    assert error_text(excinfo) == (
        "DISK_THRESHOLD_PERCENT='abc' is not a percentage; "
        "set e.g. DISK_THRESHOLD_PERCENT=90"
    )


# django-environ reads "9O" as 9.0 and "8.5.1" as 85.1 by dropping characters.
@pytest.mark.parametrize(
    "raw", ["abc", "9O", "8.5.1", "90%", "nan", "inf", "1_0", ".", "1e"]
)
def test_read_float_rejects(monkeypatch, raw):
    monkeypatch.setenv("DISK_THRESHOLD_PERCENT", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_float("DISK_THRESHOLD_PERCENT", default=90.0)

    assert f"DISK_THRESHOLD_PERCENT={raw!r}" in error_text(excinfo)


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "Yes", "on", " on "])
def test_read_bool_true(monkeypatch, raw):
    monkeypatch.setenv("DEBUG", raw)

    assert read_bool("DEBUG", default=False) is True


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", "NO", "off"])
def test_read_bool_false(monkeypatch, raw):
    monkeypatch.setenv("DEBUG", raw)

    assert read_bool("DEBUG", default=True) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "y", "enabled"])
def test_read_bool_rejects(monkeypatch, raw):
    monkeypatch.setenv("DEBUG", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_bool("DEBUG", default=False)

    assert error_text(excinfo) == (
        f"DEBUG={raw!r} is not true or false (or yes/no, on/off, 1/0); "
        "set e.g. DEBUG=false"
    )


def test_read_list_strips_items(monkeypatch):
    monkeypatch.setenv("CRITICAL_SERVICES", " sshd, cron,,nginx ,")

    assert read_list("CRITICAL_SERVICES", default=[]) == ["sshd", "cron", "nginx"]


@pytest.mark.parametrize("value", ["", " ", ","])
def test_read_list_empty(monkeypatch, value):
    monkeypatch.setenv("DISK_CLEANUP_PATHS", value)

    assert read_list("DISK_CLEANUP_PATHS", default=["/tmp"]) == []


def test_read_list_default_copied(monkeypatch):
    monkeypatch.delenv("CRITICAL_SERVICES", raising=False)
    default = ["sshd"]

    value = read_list("CRITICAL_SERVICES", default=default)
    value.append("cron")

    assert default == ["sshd"]


@pytest.mark.parametrize(
    ("raw", "expected"), [("WARNING", "WARNING"), ("info", "INFO")]
)
def test_read_choice_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv("LOG_LEVEL", raw)

    assert read_choice("LOG_LEVEL", "INFO", LEVELS) == expected


def test_read_choice_rejects(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "LOUD")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_choice("LOG_LEVEL", "INFO", LEVELS)

    assert error_text(excinfo) == (
        "LOG_LEVEL='LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL; "
        "set e.g. LOG_LEVEL=INFO"
    )


def test_read_secret_from_variable(monkeypatch):
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("SECRET_KEY", FAKE_SECRET)

    assert read_secret("SECRET_KEY") == FAKE_SECRET


def test_read_secret_file_wins(monkeypatch, tmp_path):
    path = tmp_path / "secret_key"
    path.write_text(FAKE_SECRET + "\n")
    monkeypatch.setenv("SECRET_KEY", "from-the-variable")
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))

    assert read_secret("SECRET_KEY") == FAKE_SECRET


def test_read_secret_missing_file(monkeypatch, tmp_path):
    path = tmp_path / "nonexistent"
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_secret("SECRET_KEY")

    assert error_text(excinfo).startswith(
        f"SECRET_KEY_FILE={str(path)!r} cannot be read (No such file or directory)"
    )
    assert "unset SECRET_KEY_FILE" in error_text(excinfo)


def test_read_secret_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_secret("SECRET_KEY")

    assert f"SECRET_KEY_FILE={str(tmp_path)!r} cannot be read" in error_text(excinfo)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission")
def test_read_secret_no_permission(monkeypatch, tmp_path):
    path = tmp_path / "secret_key"
    path.write_text(FAKE_SECRET)
    path.chmod(0)
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_secret("SECRET_KEY")

    assert "(Permission denied)" in error_text(excinfo)
    assert FAKE_SECRET not in error_text(excinfo)


def test_read_secret_binary_hidden(monkeypatch, tmp_path):
    path = tmp_path / "secret_key"
    path.write_bytes(b"\xff" + FAKE_SECRET.encode())
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_secret("SECRET_KEY")

    assert "(not UTF-8 text)" in error_text(excinfo)
    assert FAKE_SECRET not in error_text(excinfo)
    assert excinfo.value.__cause__ is None


def test_read_secret_empty_file(monkeypatch, tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_secret("SECRET_KEY")

    assert error_text(excinfo).startswith(
        f"SECRET_KEY_FILE={str(path)!r} is an empty file"
    )


def test_database_url_postgres(monkeypatch):
    monkeypatch.setenv(
        "DATABASE_URL", f"postgres://opsguard:{FAKE_PASSWORD}@127.0.0.1:5432/og"
    )

    config = read_database_url("DATABASE_URL", default="sqlite:///db.sqlite3")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "og"


def test_database_url_empty_default(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "")

    config = read_database_url("DATABASE_URL", default="sqlite:////tmp/og.sqlite3")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/tmp/og.sqlite3"


def test_database_url_bad_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"postgress://og:{FAKE_PASSWORD}@127.0.0.1/og")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_database_url("DATABASE_URL", default="sqlite:///db.sqlite3")

    assert error_text(excinfo).startswith(
        "DATABASE_URL has the scheme 'postgress', which is not a database URL"
    )
    assert FAKE_PASSWORD not in error_text(excinfo)


def test_database_url_no_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"og:{FAKE_PASSWORD}@127.0.0.1/og")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        read_database_url("DATABASE_URL", default="sqlite:///db.sqlite3")

    assert error_text(excinfo).startswith("DATABASE_URL has no scheme:// prefix")
    assert FAKE_PASSWORD not in error_text(excinfo)


def start_with_env(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """Import the settings module in a new Python process with `variables`."""
    env = {**os.environ, "OPSGUARD_DATA_DIR": str(tmp_path / "data"), **variables}
    return subprocess.run(
        [sys.executable, "-c", "import opsguard.settings"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SUSTAIN_SECONDS",
            "ten",
            "SUSTAIN_SECONDS='ten' is not a whole number of seconds; "
            "set e.g. SUSTAIN_SECONDS=300",
        ),
        (
            "DISK_THRESHOLD_PERCENT",
            "9O",
            "DISK_THRESHOLD_PERCENT='9O' is not a percentage; "
            "set e.g. DISK_THRESHOLD_PERCENT=90",
        ),
        ("DEBUG", "maybe", "DEBUG='maybe' is not true or false"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not one of DEBUG, INFO"),
        (
            "SECRET_KEY_FILE",
            "/nonexistent",
            "SECRET_KEY_FILE='/nonexistent' cannot be read",
        ),
    ],
)
def test_settings_import_fails(tmp_path, name, value, message):
    result = start_with_env(tmp_path, **{name: value})

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_settings_import_valid(tmp_path):
    result = start_with_env(tmp_path, SUSTAIN_SECONDS="60", DEBUG="off")

    assert result.returncode == 0, result.stderr
