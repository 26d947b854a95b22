"""A fake Discord webhook endpoint that follows the Discord API v10.

It implements POST /api/webhooks/{webhook_id}/{token} (with or without the
/v10 version prefix): the JSON checks and limits that Discord applies, its
error bodies and codes, ?wait=true returning the message and 204 otherwise.
Tests script rate limits (JSON or Cloudflare HTML) and errors for the next
request.
"""

import itertools
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.server import (
    FakeServer,
    RecordedRequest,
    ScriptedResponse,
    json_response,
)

# Discord snowflakes count milliseconds from 2015-01-01T00:00:00Z.
DISCORD_EPOCH_MS = 1_420_070_400_000

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000
MAX_USERNAME = 80

ALLOWED_MENTION_TYPES = frozenset({"roles", "users", "everyone"})
ROLE_MENTION = re.compile(r"<@&(\d+)>")
WEBHOOK_PATH = re.compile(
    r"^/api(?:/v\d+)?/webhooks/(?P<webhook_id>[^/]+)/(?P<token>[^/]+)/?$"
)
CLOUDFLARE_BAN_PAGE = (
    "<!DOCTYPE html><html><head><title>Access denied | discord.com used "
    "Cloudflare to restrict access</title></head><body><h1>Error 1015</h1>"
    "<p>You are being rate limited.</p></body></html>"
)


class FakeDiscord(FakeServer):
    """Fake Discord webhook with one valid webhook id and token."""

    def __init__(self, *, webhook_id: str | None = None) -> None:
        super().__init__()
        self._sequence = itertools.count()
        self._state_lock = threading.Lock()
        self.webhook_id = webhook_id or self.new_snowflake()
        self.channel_id = self.new_snowflake()
        # A random fake token, so that tests can check it never leaks.
        self.token = secrets.token_urlsafe(48)
        self._messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/api/webhooks/{self.webhook_id}/{self.token}"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Copy of the accepted webhook payloads, oldest first."""
        with self._state_lock:
            return list(self._messages)

    def reset(self) -> None:
        """Forget requests, accepted messages and queued responses."""
        super().reset()
        with self._state_lock:
            self._messages.clear()

    def new_snowflake(self) -> str:
        """Return a new snowflake id as a decimal string, like Discord does."""
        milliseconds = int(time.time() * 1000) - DISCORD_EPOCH_MS
        with self._state_lock:
            increment = next(self._sequence) & 0xFFF
        return str((milliseconds << 22) | increment)

    def enqueue_rate_limit(
        self, retry_after: float = 0.641, *, is_global: bool = False
    ) -> None:
        """Queue a Discord 429: JSON body with float seconds, and headers."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if is_global else "user",
            "Via": "1.1 google",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        self.enqueue(json_response(429, body, headers))

    def enqueue_html_rate_limit(self, retry_after: int | None = None) -> None:
        """Queue a Cloudflare ban: 429 with an HTML page instead of JSON."""
        headers = {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self.enqueue(ScriptedResponse(429, headers, CLOUDFLARE_BAN_PAGE.encode()))

    def enqueue_error(
        self,
        status: int,
        message: str,
        code: int,
        errors: dict[str, Any] | None = None,
    ) -> None:
        """Queue a Discord JSON error body {"message", "code", "errors"}."""
        self.enqueue(json_response(status, _error_body(message, code, errors)))

    def handle(self, request: RecordedRequest) -> ScriptedResponse:
        match = WEBHOOK_PATH.match(request.path)
        if match is None:
            return json_response(404, _error_body("404: Not Found", 0))
        if request.method != "POST":
            return json_response(405, _error_body("405: Method Not Allowed", 0))
        if match["webhook_id"] != self.webhook_id:
            return json_response(404, _error_body("Unknown Webhook", 10015))
        if not secrets.compare_digest(match["token"], self.token):
            return json_response(401, _error_body("Invalid Webhook Token", 50027))
        return self._execute_webhook(request)

    def _execute_webhook(self, request: RecordedRequest) -> ScriptedResponse:
        payload, problem = _read_payload(request)
        if problem is not None:
            return problem

        errors = form_errors(payload)
        if errors:
            body = _error_body("Invalid Form Body", 50035, errors)
            return json_response(400, body)
        if _is_empty(payload):
            body = _error_body("Cannot send an empty message", 50006)
            return json_response(400, body)

        message = self._message_object(payload)
        with self._state_lock:
            self._messages.append(payload)
        wait = request.query.get("wait", ["false"])[-1].lower()
        if wait in ("true", "1"):
            return json_response(200, message)
        return ScriptedResponse(204)

    def _message_object(self, payload: dict[str, Any]) -> dict[str, Any]:
        content = payload.get("content") or ""
        everyone, roles = pinged_mentions(content, payload.get("allowed_mentions"))
        author = {
            "id": self.webhook_id,
            "username": payload.get("username") or "Fake webhook",
            "avatar": None,
            "discriminator": "0000",
            "bot": True,
        }
        return {
            "id": self.new_snowflake(),
            "type": 0,
            "content": content,
            "channel_id": self.channel_id,
            "author": author,
            "attachments": [],
            "embeds": [{"type": "rich", **embed} for embed in _embeds(payload)],
            "mentions": [],
            "mention_roles": roles,
            "mention_everyone": everyone,
            "pinned": False,
            "tts": bool(payload.get("tts")),
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
            "webhook_id": self.webhook_id,
        }


def form_errors(payload: dict[str, Any]) -> dict[str, Any]:
    """Return Discord's nested `errors` object for `payload`, empty when valid."""
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if content is not None:
        _check_text(errors, "content", content, MAX_CONTENT, required=False)
    username = payload.get("username")
    if username is not None:
        _check_username(errors, username)
    mentions = payload.get("allowed_mentions")
    if mentions is not None:
        _check_allowed_mentions(errors, mentions)
    embeds = payload.get("embeds")
    if embeds is not None:
        _check_embeds(errors, embeds)
    return errors


def embed_text_length(embed: dict[str, Any]) -> int:
    """Return the number of characters that count toward the 6000 embed total."""
    texts = [embed.get("title"), embed.get("description")]
    for embed_field in embed.get("fields") or []:
        texts += [embed_field.get("name"), embed_field.get("value")]
    texts.append((embed.get("footer") or {}).get("text"))
    texts.append((embed.get("author") or {}).get("name"))
    return sum(len(text) for text in texts if isinstance(text, str))


def pinged_mentions(
    content: str, allowed_mentions: dict[str, Any] | None
) -> tuple[bool, list[str]]:
    """Return whether `content` pings @everyone/@here, and the pinged role ids.

    Without allowed_mentions a webhook message pings every mention it contains.
    Mentions inside embeds never ping. User mentions are not modelled.
    """
    if allowed_mentions is None:
        parse = set(ALLOWED_MENTION_TYPES)
        allowed_roles: list[str] = []
    else:
        parse = set(allowed_mentions.get("parse") or [])
        allowed_roles = [str(role) for role in allowed_mentions.get("roles") or []]

    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    roles = [
        role
        for role in ROLE_MENTION.findall(content)
        if "roles" in parse or role in allowed_roles
    ]
    return everyone, roles


def _read_payload(
    request: RecordedRequest,
) -> tuple[dict[str, Any], ScriptedResponse | None]:
    content_type = request.header("Content-Type") or ""
    if "application/json" not in content_type:
        # Discord reads no JSON fields from other bodies, so the message is empty.
        body = _error_body("Cannot send an empty message", 50006)
        return {}, json_response(400, body)
    try:
        payload = json.loads(request.body)
    except ValueError:
        body = _error_body("The request body contains invalid JSON.", 50109)
        return {}, json_response(400, body)
    if not isinstance(payload, dict):
        errors = _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used")
        body = _error_body("Invalid Form Body", 50035, errors)
        return {}, json_response(400, body)
    return payload, None


def _is_empty(payload: dict[str, Any]) -> bool:
    content = payload.get("content")
    has_content = isinstance(content, str) and content.strip() != ""
    return not has_content and not _embeds(payload)


def _embeds(payload: dict[str, Any]) -> list[dict[str, Any]]:
    embeds = payload.get("embeds")
    return embeds if isinstance(embeds, list) else []


def _check_embeds(errors: dict[str, Any], embeds: Any) -> None:
    if not isinstance(embeds, list):
        errors["embeds"] = _field_error("LIST_TYPE_CONVERT", "Must be a list.")
        return
    embed_errors: dict[str, Any] = {}
    if len(embeds) > MAX_EMBEDS:
        message = f"Must be {MAX_EMBEDS} or fewer in length."
        embed_errors.update(_field_error("BASE_TYPE_MAX_LENGTH", message))
    for index, embed in enumerate(embeds):
        problems = _embed_errors(embed)
        if problems:
            embed_errors[str(index)] = problems
    total = sum(embed_text_length(e) for e in embeds if isinstance(e, dict))
    if total > MAX_EMBED_TOTAL:
        message = f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
        errors_list = embed_errors.setdefault("_errors", [])
        errors_list.append({"code": "MAX_EMBED_SIZE_EXCEEDED", "message": message})
    if embed_errors:
        errors["embeds"] = embed_errors


def _embed_errors(embed: Any) -> dict[str, Any]:
    if not isinstance(embed, dict):
        return _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used")
    errors: dict[str, Any] = {}
    _check_text(errors, "title", embed.get("title"), MAX_TITLE, required=False)
    description = embed.get("description")
    _check_text(errors, "description", description, MAX_DESCRIPTION, required=False)
    _check_url(errors, "url", embed.get("url"))
    _check_color(errors, embed.get("color"))
    _check_fields(errors, embed.get("fields"))
    footer = embed.get("footer")
    if footer is not None:
        footer_errors: dict[str, Any] = {}
        text = footer.get("text") if isinstance(footer, dict) else None
        _check_text(footer_errors, "text", text, MAX_FOOTER, required=True)
        if footer_errors:
            errors["footer"] = footer_errors
    author = embed.get("author")
    if author is not None:
        author_errors: dict[str, Any] = {}
        name = author.get("name") if isinstance(author, dict) else None
        _check_text(author_errors, "name", name, MAX_AUTHOR_NAME, required=True)
        if author_errors:
            errors["author"] = author_errors
    return errors


def _check_fields(errors: dict[str, Any], fields: Any) -> None:
    if fields is None:
        return
    if not isinstance(fields, list):
        errors["fields"] = _field_error("LIST_TYPE_CONVERT", "Must be a list.")
        return
    field_errors: dict[str, Any] = {}
    if len(fields) > MAX_FIELDS:
        message = f"Must be {MAX_FIELDS} or fewer in length."
        field_errors.update(_field_error("BASE_TYPE_MAX_LENGTH", message))
    for index, embed_field in enumerate(fields):
        problems: dict[str, Any] = {}
        item = embed_field if isinstance(embed_field, dict) else {}
        _check_text(problems, "name", item.get("name"), MAX_FIELD_NAME, required=True)
        value = item.get("value")
        _check_text(problems, "value", value, MAX_FIELD_VALUE, required=True)
        if problems:
            field_errors[str(index)] = problems
    if field_errors:
        errors["fields"] = field_errors


def _check_text(
    errors: dict[str, Any], key: str, value: Any, limit: int, *, required: bool
) -> None:
    if value is None or value == "":
        if required:
            errors[key] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
        return
    if not isinstance(value, str):
        errors[key] = _field_error("BASE_TYPE_STRING", "Must be a string.")
    elif len(value) > limit:
        message = f"Must be {limit} or fewer in length."
        errors[key] = _field_error("BASE_TYPE_MAX_LENGTH", message)


def _check_url(errors: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value):
        message = "Not a well formed URL."
        errors[key] = _field_error("URL_TYPE_INVALID_URL", message)


def _check_color(errors: dict[str, Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or not 0 <= value <= 0xFFFFFF:
        message = "Int value should be less than or equal to 16777215."
        errors["color"] = _field_error("NUMBER_TYPE_MAX", message)


def _check_username(errors: dict[str, Any], username: Any) -> None:
    if not isinstance(username, str) or not 1 <= len(username) <= MAX_USERNAME:
        message = f"Must be between 1 and {MAX_USERNAME} in length."
        errors["username"] = _field_error("BASE_TYPE_BAD_LENGTH", message)
        return
    for forbidden in ("clyde", "discord"):
        if forbidden in username.lower():
            message = f'Username cannot contain "{forbidden}"'
            errors["username"] = _field_error("USERNAME_INVALID_CONTAINS", message)


def _check_allowed_mentions(errors: dict[str, Any], mentions: Any) -> None:
    if not isinstance(mentions, dict):
        message = "Only dictionaries may be used"
        errors["allowed_mentions"] = _field_error("DICT_TYPE_CONVERT", message)
        return
    parse = mentions.get("parse", [])
    if not isinstance(parse, list) or not set(parse) <= ALLOWED_MENTION_TYPES:
        message = "Value must be one of {'everyone', 'roles', 'users'}."
        problem = {"parse": _field_error("BASE_TYPE_CHOICES", message)}
        errors["allowed_mentions"] = problem


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _error_body(
    message: str, code: int, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return body


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """Yield a running FakeDiscord. Its `webhook_url` is the one valid webhook."""
    with FakeDiscord() as fake:
        yield fake
