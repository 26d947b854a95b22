"""Strict readers for settings in environment variables.

django-environ 0.14 drops the characters it cannot parse (it reads "9O" as 9.0
and "8.5.1" as 85.1) and reads any unknown word as False, so a typo changes a
setting silently. These readers take the whole value or raise
ImproperlyConfigured with the variable, the value and a valid example.

They read `os.environ`, so a `.env` file must be loaded into it first
(`environ.Env.read_env`). An empty or blank value counts as unset and gives the
default, because `.env.example` leaves optional variables empty. Lists are the
exception: an empty list is a valid setting, e.g. no clean-up paths.
"""

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

INT_PATTERN = re.compile(r"[+-]?[0-9]+")
# Digits with an optional point and exponent, so "nan", "inf" and digit groups
# with "_" are rejected.
FLOAT_PATTERN = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _raw_value(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _format_example(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _invalid_value_error(
    name: str, raw: str, expected: str, example: object
) -> Exception:
    return ImproperlyConfigured(
        f"{name}={raw!r} is not {expected}; set e.g. {name}={_format_example(example)}"
    )


def read_str(name: str, default: str) -> str:
    return _raw_value(name) or default


def read_int(name: str, default: int, expected: str = "a whole number") -> int:
    """Parse NAME as an integer; `expected` describes it in the error."""
    raw = _raw_value(name)
    if raw is None:
        return default
    if not INT_PATTERN.fullmatch(raw):
        raise _invalid_value_error(name, raw, expected, default)
    return int(raw)


def read_float(name: str, default: float, expected: str = "a number") -> float:
    """Parse NAME as a decimal number; `expected` describes it in the error."""
    raw = _raw_value(name)
    if raw is None:
        return default
    if not FLOAT_PATTERN.fullmatch(raw):
        raise _invalid_value_error(name, raw, expected, default)
    return float(raw)


def read_bool(name: str, default: bool) -> bool:
    """Parse NAME as true/false, yes/no, on/off or 1/0, in any letter case."""
    raw = _raw_value(name)
    if raw is None:
        return default
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _invalid_value_error(
        name, raw, "true or false (or yes/no, on/off, 1/0)", default
    )


def read_list(name: str, default: list[str]) -> list[str]:
    """Split NAME on commas, dropping blanks around and between items.

    Only an unset NAME gives the default. An empty NAME gives an empty list.
    """
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_choice(name: str, default: str, choices: Sequence[str]) -> str:
    """Return the one of `choices` that NAME matches, ignoring letter case."""
    raw = _raw_value(name)
    if raw is None:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise _invalid_value_error(name, raw, "one of " + ", ".join(choices), default)


def read_secret(name: str, default: str = "") -> str:
    """Return NAME, or the content of the file that NAME_FILE points to.

    NAME_FILE wins when both are set. Errors name the path, never the content.
    """
    path = _raw_value(f"{name}_FILE")
    if path is None:
        return os.environ.get(name) or default
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise _unreadable_file_error(
            name, path, error.strerror or type(error).__name__
        ) from None
    except UnicodeDecodeError:
        # `from None`: the decode error carries the file's bytes.
        raise _unreadable_file_error(name, path, "not UTF-8 text") from None
    if not value:
        raise ImproperlyConfigured(
            f"{name}_FILE={path!r} is an empty file; write the {name} value into "
            f"it, or unset {name}_FILE"
        )
    return value


def _unreadable_file_error(name: str, path: str, reason: str) -> Exception:
    return ImproperlyConfigured(
        f"{name}_FILE={path!r} cannot be read ({reason}); point it to a readable "
        f"file that contains the {name} value, or unset {name}_FILE"
    )


def read_database_url(name: str, default: str) -> dict[str, Any]:
    """Parse NAME as a database URL into a Django DATABASES entry."""
    url = read_str(name, default)
    # django-environ turns an unknown scheme into an engine module name, and
    # Django then fails on it without naming the variable.
    # The URL may carry a password, so the errors show its scheme at most.
    example = f"set e.g. {name}=postgres://USER:PASSWORD@HOST:5432/NAME"
    if "://" not in url:
        raise ImproperlyConfigured(f"{name} has no scheme:// prefix; {example}")
    scheme = urlsplit(url).scheme
    if scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} has the scheme {scheme!r}, which is not a database URL "
            f"scheme; {example}"
        )
    return dict(environ.Env.db_url_config(url))
