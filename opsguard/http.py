"""Outbound HTTP for every integration: timeouts, bounded retries, safe errors.

Every call to an outside service (Discord, AWX, Semaphore, Loki, an LLM) goes
through `request`, so that each call has a timeout, transient failures are
retried the same way everywhere, and no URL path reaches a message or a log.
Webhook URLs carry their token in the path, so only scheme, host and port are
ever shown.
"""

import http.client
import logging
import math
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

logger = logging.getLogger(__name__)


class RedactRequestPaths(logging.Filter):
    """Log filter that replaces request paths and URLs in records with "…".

    urllib3 logs each request line, path and query included, at DEBUG level,
    so a webhook token would reach the logs whenever DEBUG is on.
    """

    REQUEST_LINE = re.compile(r'"([A-Z]+) \S+ (HTTP/[\d.]+)"')
    QUOTED_URL = re.compile(r"url='[^']*'")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.REQUEST_LINE.sub(r'"\1 … \2"', message)
        redacted = self.QUOTED_URL.sub("url='…'", redacted)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_REDACT_FILTER = RedactRequestPaths()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACT_FILTER)

RETRYABLE_STATUSES = frozenset({502, 503, 504})
# Idempotent methods: sending such a request twice has the effect of sending it
# once, so a request that may already have reached the server can be sent again.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# 408 and 429 are client errors that go away when the caller tries again later.
TRANSIENT_CLIENT_STATUSES = frozenset({408, 429})
# Upper bound on the total time one call sleeps between retries, so that a
# Celery worker is never held for long. Longer waits belong to the caller.
MAX_TOTAL_BACKOFF = 5.0
BODY_EXCERPT_CHARS = 200
# Maximum length of the response body kept on IntegrationError.body.
ERROR_BODY_CHARS = 4096


class IntegrationError(Exception):
    """An outbound call failed. `permanent` is True when retrying cannot help.

    `status` is the HTTP status, or None when no response arrived.
    `uncertain` is True when the request may have reached the server and been
    acted on although no response came back (a read timeout, a dropped
    connection), so sending it again could repeat its effect.
    `retry_after` is in seconds, from the Retry-After header or from a caller
    that parses the service's error body. `body` is the start of the response
    body, or None when no response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        body: str | None = None,
        uncertain: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.uncertain = uncertain

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles task exceptions, and the default reduce would call
        # __init__ without the keyword-only arguments.
        state = (self.message, self.permanent, self.status, self.retry_after)
        return (_rebuild_error, (type(self), *state, self.body, self.uncertain))


def _rebuild_error(
    cls: type[IntegrationError],
    message: str,
    permanent: bool,
    status: int | None,
    retry_after: float | None,
    body: str | None,
    uncertain: bool = False,
) -> IntegrationError:
    return cls(
        message,
        permanent=permanent,
        status=status,
        retry_after=retry_after,
        uncertain=uncertain,
        body=body,
    )


def redact_url(url: str) -> str:
    """Return `scheme://host:port/…`, without credentials, path or query."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<invalid URL>"

    host = parts.hostname or ""
    if ":" in host:
        host = "[" + host + "]"
    if port is not None:
        host = host + ":" + str(port)
    return parts.scheme + "://" + host + "/…"


def backoff_schedule(retries: int, backoff: float) -> list[float]:
    """Return the delay in seconds before each retry.

    Delays double from `backoff`, and their sum is capped at MAX_TOTAL_BACKOFF.
    """
    delays = []
    remaining = MAX_TOTAL_BACKOFF
    for attempt in range(retries):
        delay = min(backoff * 2**attempt, remaining)
        delays.append(delay)
        remaining -= delay
    return delays


def request(
    method: str,
    url: str,
    *,
    service: str,
    timeout: float = 10.0,
    retries: int = 2,
    backoff: float = 0.5,
    session: requests.Session | None = None,
    retry_unsafe: bool = False,
    **kwargs: Any,
) -> requests.Response:
    """Send an HTTP request and return the response if its status is 2xx.

    Retries up to `retries` times, with exponential backoff. A failed
    connect (refused, timed out, host name not resolved) is retried for every
    method, because the server never received the request. Read timeouts,
    connections dropped after sending and HTTP 502/503/504 are retried only
    for IDEMPOTENT_METHODS, because the server may already have acted on the
    request: a resent POST to a Discord webhook posts the message twice.
    `retry_unsafe=True` retries them for every method, for an API that
    ignores repeated requests. HTTP 429 is not retried: the caller
    reschedules itself using IntegrationError.retry_after. `timeout` applies
    to the connect and to each read, in seconds. Other keyword arguments go
    to `requests.Session.request`.

    Raises IntegrationError for every other status and for failed connections.
    """
    _check_arguments(timeout, retries, backoff)
    delays = backoff_schedule(retries, backoff)
    send = session.request if session is not None else requests.request
    can_resend = retry_unsafe or method.upper() in IDEMPOTENT_METHODS

    for attempt in range(retries + 1):
        try:
            response = send(method, url, timeout=(timeout, timeout), **kwargs)
        except requests.RequestException as exc:
            error = _connection_error(exc, service, timeout)
            retryable = not error.permanent and (can_resend or _never_sent(exc))
        else:
            if 200 <= response.status_code < 300:
                return response
            error = _status_error(response, service, url)
            retryable = can_resend and response.status_code in RETRYABLE_STATUSES

        if not retryable or attempt == retries:
            _log_failure(service, method, error)
            raise error
        _log_retry(service, method, error, attempt + 1, retries, delays[attempt])
        time.sleep(delays[attempt])

    raise AssertionError("unreachable: the last attempt returns or raises")


def _check_arguments(timeout: float, retries: int, backoff: float) -> None:
    if timeout <= 0:
        raise ValueError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries!r}")
    if backoff < 0:
        raise ValueError(f"backoff must be 0 or more seconds, got {backoff!r}")


def _connection_error(
    exc: requests.RequestException, service: str, timeout: float
) -> IntegrationError:
    # str(exc) from requests and urllib3 contains the request path, which may
    # contain a token, so the message is rebuilt from the exception type.
    if isinstance(exc, requests.ConnectTimeout):
        reason = f"connect timed out after {timeout:g} s"
    elif isinstance(exc, requests.Timeout):
        reason = f"read timed out after {timeout:g} s"
    elif isinstance(exc, requests.exceptions.SSLError):
        reason = "TLS handshake failed; check the certificate and the URL scheme"
        return _request_failed(service, reason, permanent=True)
    elif isinstance(
        exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        reason = f"connection failed ({_os_error_text(exc)})"
    else:
        name = type(exc).__name__
        reason = f"invalid request ({name}); check the configured URL"
        return _request_failed(service, reason, permanent=True)
    error = _request_failed(service, reason, permanent=False)
    error.uncertain = not _never_sent(exc)
    return error


def _never_sent(exc: requests.RequestException) -> bool:
    """Return True when the connection failed before the request was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    # requests raises a plain ConnectionError for a refused connection and an
    # unresolved host name. urllib3 raises NewConnectionError for both.
    return any(isinstance(cause, NewConnectionError) for cause in _causes(exc))


def _request_failed(service: str, reason: str, *, permanent: bool) -> IntegrationError:
    message = f"{service} request failed: {reason}"
    return IntegrationError(message, permanent=permanent)


def _os_error_text(exc: BaseException) -> str:
    """Return the strerror of the first OSError under `exc`, else its type name.

    A connection closed without a response gets a sentence instead, because
    its error has no strerror.
    """
    for cause in _causes(exc):
        if isinstance(cause, http.client.RemoteDisconnected):
            return "the server closed the connection without a response"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield `exc`, then the exceptions that requests and urllib3 wrapped in it.

    urllib3 keeps the cause in `reason` or in `args`, and some errors only in
    `__cause__` or `__context__`.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        args = getattr(current, "args", ())
        nested = [arg for arg in args if isinstance(arg, BaseException)]
        current = nested[0] if nested else current.__cause__ or current.__context__


def _status_error(
    response: requests.Response, service: str, url: str
) -> IntegrationError:
    status = response.status_code
    text = response.text
    message = f"{service} answered HTTP {status}: {_body_excerpt(text, url)}"
    permanent = status < 500 and status not in TRANSIENT_CLIENT_STATUSES
    return IntegrationError(
        message,
        permanent=permanent,
        status=status,
        retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
        body=text[:ERROR_BODY_CHARS],
    )


def _body_excerpt(text: str, url: str) -> str:
    # Some servers echo the request path in error pages. The path, the query
    # and every long path segment (tokens are long) are removed so that a
    # token never reaches a message.
    parts = urlsplit(url)
    long_segments = [part for part in parts.path.split("/") if len(part) >= 16]
    for secret in [parts.path, parts.query, *long_segments]:
        if len(secret) > 1:
            text = text.replace(secret, "…")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return "(empty body)"
    if len(text) > BODY_EXCERPT_CHARS:
        return text[: BODY_EXCERPT_CHARS - 1] + "…"
    return text


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delay seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _log_retry(
    service: str,
    method: str,
    error: IntegrationError,
    retry: int,
    retries: int,
    delay: float,
) -> None:
    logger.warning(
        "Retrying %s %s in %.2f s (retry %d of %d) after: %s",
        service,
        method,
        delay,
        retry,
        retries,
        error.message,
    )


def _log_failure(service: str, method: str, error: IntegrationError) -> None:
    logger.warning(
        "%s %s failed (HTTP status %s, permanent=%s): %s",
        service,
        method,
        error.status,
        error.permanent,
        error.message,
    )
