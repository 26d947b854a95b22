"""Tests for opsguard.http.request against a real HTTP server on 127.0.0.1."""

import logging
import pickle
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import pytest
import requests

from opsguard.http import (
    MAX_TOTAL_BACKOFF,
    IntegrationError,
    backoff_schedule,
    redact_url,
    request,
)
from tests.fakes import server as fake_servers
from tests.fakes.server import FakeServer

fake_server = fake_servers.fake_server

SECRET_PATH = "/hooks/1234/secret-token-abcdefghijklmnop"


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClosingServer:
    """TCP server on 127.0.0.1 that reads each request and closes the
    connection without a response, as a proxy does when its upstream dies."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.connections = 0

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join()
        self._listener.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/jobs"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(1.0)
                try:
                    connection.recv(65536)
                except OSError:
                    pass


class StartServerOnRetry(logging.Handler):
    """Log handler that starts `server` when opsguard.http logs a retry."""

    def __init__(self, server: FakeServer) -> None:
        super().__init__(logging.WARNING)
        self.server = server
        self.started = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Retrying") and not self.started:
            self.server.start()
            self.started = True


@pytest.fixture
def closing_server() -> Iterator[ClosingServer]:
    with ClosingServer() as server:
        yield server


def test_request_returns_2xx_response(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(200, {"ok": True})

    response = request("GET", fake_server.base_url + "/status", service="loki")

    assert response.json() == {"ok": True}
    assert fake_server.requests[0].path == "/status"


def test_request_sends_json_and_params(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(201, {"id": 7})

    request(
        "POST",
        fake_server.base_url + "/jobs",
        service="awx",
        json={"name": "restart"},
        params={"wait": "true"},
    )

    received = fake_server.requests[0]
    assert received.method == "POST"
    assert received.json == {"name": "restart"}
    assert received.query == {"wait": ["true"]}


def test_request_uses_given_session(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(200)
    session = requests.Session()
    session.headers["X-Session"] = "shared"

    with session:
        request("GET", fake_server.base_url, service="awx", session=session)

    assert fake_server.requests[0].header("X-Session") == "shared"


def test_retry_503_then_success(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(503, "busy")
    fake_server.enqueue_response(200, {"ok": True})

    response = request("GET", fake_server.base_url, service="awx", backoff=0.01)

    assert response.status_code == 200
    assert len(fake_server.requests) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_retry_gives_up_after_retries(fake_server: FakeServer, status: int) -> None:
    for _ in range(4):
        fake_server.enqueue_response(status, "upstream down")

    with pytest.raises(IntegrationError) as caught:
        request("GET", fake_server.base_url, service="awx", retries=2, backoff=0.01)

    assert caught.value.status == status
    assert caught.value.permanent is False
    assert len(fake_server.requests) == 3


def test_retry_logs_each_attempt(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    fake_server.enqueue_response(503)
    fake_server.enqueue_response(503)

    with caplog.at_level(logging.WARNING, logger="opsguard.http"):
        with pytest.raises(IntegrationError):
            request("GET", fake_server.base_url, service="awx", retries=1, backoff=0)

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("Retrying awx GET")
    assert "HTTP status 503" in messages[1]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_error_is_permanent(fake_server: FakeServer, status: int) -> None:
    fake_server.enqueue_response(status, {"detail": "bad"})

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="awx", backoff=0)

    assert caught.value.permanent is True
    assert caught.value.status == status
    assert len(fake_server.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500])
def test_transient_status_not_retried(fake_server: FakeServer, status: int) -> None:
    fake_server.enqueue_response(status, "later")

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="awx", backoff=0)

    assert caught.value.permanent is False
    assert len(fake_server.requests) == 1


def test_429_reads_retry_after_header(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(429, "slow down", headers={"Retry-After": "3"})

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="llm")

    assert caught.value.retry_after == 3.0
    assert caught.value.permanent is False


def test_retry_after_http_date(fake_server: FakeServer) -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    fake_server.enqueue_response(429, "slow down", headers=headers)

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="llm")

    # A date in the past means "retry now".
    assert caught.value.retry_after == 0.0


def test_error_message_names_service_status(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(409, {"detail": "job already running"})

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="semaphore")

    message = str(caught.value)
    assert message.startswith("semaphore answered HTTP 409: ")
    assert "job already running" in message


def test_error_excerpt_is_short(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(400, "x" * 5000)

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="awx")

    assert len(str(caught.value)) < 260
    assert str(caught.value).endswith("…")


def test_error_body_kept_on_exception(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(400, {"code": 50035})

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="discord")

    assert caught.value.body == '{"code": 50035}'


def test_echoed_path_is_redacted(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = fake_server.base_url + SECRET_PATH + "?token=query-secret"

    # The default route of the fake returns 404 and echoes the request path.
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(IntegrationError) as caught:
            request("POST", url, service="discord")

    assert "secret-token" not in str(caught.value)
    assert "secret-token" not in caplog.text
    assert "query-secret" not in caplog.text


def test_connection_refused_is_transient(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}{SECRET_PATH}"

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(IntegrationError) as caught:
            request("POST", url, service="discord", retries=1, backoff=0)

    assert caught.value.permanent is False
    assert caught.value.status is None
    assert "Connection refused" in str(caught.value)
    assert SECRET_PATH not in str(caught.value)
    assert "secret-token" not in caplog.text
    assert "discord request failed" in caplog.text


def test_timeout_raises_transient_error(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(200, {"late": True}, delay=2.0)

    started = time.monotonic()
    with pytest.raises(IntegrationError) as caught:
        request("GET", fake_server.base_url, service="loki", timeout=0.2, retries=0)
    elapsed = time.monotonic() - started

    assert caught.value.permanent is False
    assert "read timed out after 0.2 s" in str(caught.value)
    assert elapsed < 1.5


def test_timeout_retried_then_success(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(200, {"late": True}, delay=2.0)
    fake_server.enqueue_response(200, {"late": False})

    response = request(
        "GET", fake_server.base_url, service="loki", timeout=0.2, backoff=0
    )

    assert response.json() == {"late": False}


def test_get_timeout_retried(fake_server: FakeServer) -> None:
    for _ in range(3):
        fake_server.enqueue_response(200, {"late": True}, delay=2.0)

    with pytest.raises(IntegrationError):
        request("GET", fake_server.base_url, service="loki", timeout=0.2, backoff=0)

    assert len(fake_server.requests) == 3


def test_post_timeout_sent_once(fake_server: FakeServer) -> None:
    for _ in range(3):
        fake_server.enqueue_response(200, {"late": True}, delay=2.0)

    with pytest.raises(IntegrationError) as caught:
        request("POST", fake_server.base_url, service="discord", timeout=0.2, backoff=0)

    assert "read timed out" in str(caught.value)
    assert caught.value.permanent is False
    assert len(fake_server.requests) == 1


def test_post_timeout_retried_when_unsafe(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(200, {"late": True}, delay=2.0)
    fake_server.enqueue_response(200, {"late": False})

    response = request(
        "POST",
        fake_server.base_url,
        service="awx",
        timeout=0.2,
        backoff=0,
        retry_unsafe=True,
    )

    assert response.json() == {"late": False}
    assert len(fake_server.requests) == 2


@pytest.mark.parametrize("method", ["GET", "get", "HEAD", "PUT", "DELETE"])
def test_idempotent_503_retried(fake_server: FakeServer, method: str) -> None:
    fake_server.enqueue_response(503, "busy")
    fake_server.enqueue_response(200)

    response = request(method, fake_server.base_url, service="awx", backoff=0)

    assert response.status_code == 200
    assert len(fake_server.requests) == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_unsafe_503_not_retried(fake_server: FakeServer, method: str) -> None:
    fake_server.enqueue_response(503, "busy")
    fake_server.enqueue_response(200)

    with pytest.raises(IntegrationError) as caught:
        request(method, fake_server.base_url, service="awx", backoff=0)

    assert caught.value.status == 503
    assert caught.value.permanent is False
    assert len(fake_server.requests) == 1


def test_unsafe_503_retried_when_allowed(fake_server: FakeServer) -> None:
    fake_server.enqueue_response(503, "busy")
    fake_server.enqueue_response(200)

    response = request(
        "POST", fake_server.base_url, service="awx", backoff=0, retry_unsafe=True
    )

    assert response.status_code == 200
    assert len(fake_server.requests) == 2


def test_post_closed_port_retried(caplog: pytest.LogCaptureFixture) -> None:
    # The server starts on the refused port when the first retry is logged,
    # so the retry reaches it only if the refused POST was sent again.
    port = closed_port()
    server = FakeServer(port=port)
    server.enqueue_response(200, {"ok": True})
    handler = StartServerOnRetry(server)
    http_logger = logging.getLogger("opsguard.http")
    http_logger.addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING, logger="opsguard.http"):
            response = request(
                "POST", f"http://127.0.0.1:{port}/hooks", service="discord", backoff=0
            )
    finally:
        http_logger.removeHandler(handler)
        server.stop()

    assert response.json() == {"ok": True}
    assert len(server.requests) == 1
    assert "Connection refused" in caplog.text


@pytest.mark.parametrize(("method", "expected"), [("POST", 1), ("GET", 3)])
def test_dropped_connection_retry(
    closing_server: ClosingServer, method: str, expected: int
) -> None:
    with pytest.raises(IntegrationError) as caught:
        request(method, closing_server.url, service="awx", backoff=0)

    assert "closed the connection without a response" in str(caught.value)
    assert closing_server.connections == expected


@pytest.mark.parametrize(
    ("timeout", "retries", "backoff"),
    [(0, 2, 0.5), (-1, 2, 0.5), (5, -1, 0.5), (5, 2, -0.1)],
)
def test_invalid_arguments_rejected(
    timeout: float, retries: int, backoff: float
) -> None:
    with pytest.raises(ValueError):
        request(
            "GET",
            "http://127.0.0.1:9",
            service="awx",
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )


def test_invalid_url_is_permanent() -> None:
    with pytest.raises(IntegrationError) as caught:
        request("GET", "127.0.0.1/hooks/secret-token", service="awx")

    assert caught.value.permanent is True
    assert "secret-token" not in str(caught.value)


def test_backoff_schedule_doubles() -> None:
    assert backoff_schedule(3, 0.5) == [0.5, 1.0, 2.0]


def test_backoff_schedule_total_capped() -> None:
    delays = backoff_schedule(20, 10.0)

    assert len(delays) == 20
    assert sum(delays) <= MAX_TOTAL_BACKOFF


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://discord.com/api/webhooks/1/token?wait=true", "https://discord.com/…"),
        ("http://user:pass@127.0.0.1:8080/a/b", "http://127.0.0.1:8080/…"),
        ("http://[::1]:9000/secret", "http://[::1]:9000/…"),
        ("http://[::1/broken", "<invalid URL>"),
    ],
)
def test_redact_url_keeps_host_only(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_integration_error_pickles() -> None:
    error = IntegrationError(
        "awx answered HTTP 503: busy",
        permanent=False,
        status=503,
        retry_after=1.5,
        body="busy",
    )

    copy = pickle.loads(pickle.dumps(error))

    assert str(copy) == "awx answered HTTP 503: busy"
    assert copy.permanent is False
    assert copy.status == 503
    assert copy.retry_after == 1.5
    assert copy.body == "busy"
