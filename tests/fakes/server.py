"""A threaded fake HTTP server on 127.0.0.1 for tests of outbound integrations.

FakeServer records every request and sends either a scripted response, queued
by the test, or the response of its `handle` method. Subclasses (Discord, AWX,
Semaphore, Loki, LLM fakes) override `handle` to follow the real API.

    with FakeServer() as server:
        server.enqueue_response(503)
        requests.get(server.base_url + "/health", timeout=5)
        assert server.requests[0].path == "/health"
"""

import json
import logging
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import pytest

logger = logging.getLogger(__name__)

# Seconds a handler waits for a client that connected but sends nothing, so
# that stop() never waits forever on an idle connection.
SOCKET_TIMEOUT = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name, or None."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class ScriptedResponse:
    """A response to send after waiting `delay` seconds."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> ScriptedResponse:
    """Build a response with a JSON body and Content-Type application/json."""
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    body = json.dumps(payload).encode()
    return ScriptedResponse(status, all_headers, body)


class FakeServer:
    """Threaded HTTP server on 127.0.0.1 that records requests.

    Usable as a context manager or through `start` and `stop`. All public
    methods are thread-safe. Every response closes its connection, so that
    handler threads end as soon as they have sent it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[ScriptedResponse] = deque()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind the port and serve requests in a background thread."""
        if self._httpd is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
        httpd = ThreadingHTTPServer(self._address, _make_handler(self))
        # Non-daemon handler threads let server_close() join them on stop.
        httpd.daemon_threads = False
        httpd.block_on_close = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake delayed responses and join all threads."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            name = type(self).__name__
            raise RuntimeError(
                f"{name} is not running. Call start() or use it in a with block."
            )
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Base URL without a trailing slash, such as http://127.0.0.1:40123."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def enqueue(self, response: ScriptedResponse) -> None:
        """Queue `response` for the next request that has no scripted response."""
        with self._lock:
            self._scripted.append(response)

    def enqueue_response(
        self,
        status: int,
        body: bytes | str | dict[str, Any] | list[Any] = b"",
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue a response. A dict or list body is sent as JSON."""
        if isinstance(body, dict | list):
            scripted = json_response(status, body, headers)
        else:
            raw = body.encode() if isinstance(body, str) else body
            scripted = ScriptedResponse(status, dict(headers or {}), raw)
        self.enqueue(
            ScriptedResponse(scripted.status, scripted.headers, scripted.body, delay)
        )

    def reset(self) -> None:
        """Forget recorded requests and drop queued responses."""
        with self._lock:
            self._requests.clear()
            self._scripted.clear()

    def handle(self, request: RecordedRequest) -> ScriptedResponse:
        """Return the default response, 404. Subclasses implement the real API here."""
        route = f"{request.method} {request.path}"
        return json_response(404, {"error": f"no route for {route}"})

    def _respond_to(self, request: RecordedRequest) -> ScriptedResponse:
        with self._lock:
            self._requests.append(request)
            scripted = self._scripted.popleft() if self._scripted else None
        if scripted is not None:
            return scripted
        return self.handle(request)

    def _wait(self, seconds: float) -> None:
        # Waiting on the stop event lets stop() end a delayed response at once.
        if seconds > 0:
            self._stopping.wait(seconds)


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_FakeRequestHandler):
        fake = server

    return Handler


class _FakeRequestHandler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path is left out because webhook paths contain tokens.
        name = type(self.fake).__name__
        logger.debug("%s: %s … responded with %s", name, self.command, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: %s", type(self.fake).__name__, format % args)

    def _serve(self) -> None:
        request = self._read_request()
        response = self.fake._respond_to(request)
        self.fake._wait(response.delay)
        try:
            self._write_response(response)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first, which is what timeout tests expect.
            logger.debug("client closed the connection before the response")

    def _read_request(self) -> RecordedRequest:
        # NOTE: a chunked request body is not read. requests sends
        # Content-Length for json= and for bytes or str data=.
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        return RecordedRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
            json=_parse_json(body),
        )

    def _write_response(self, response: ScriptedResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        # 204 and 304 responses must not carry a body or a Content-Length.
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if response.status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(response.body)


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """Yield a running FakeServer whose default response is 404."""
    with FakeServer() as server:
        yield server
