"""Discord webhook notifications: proposed fixes to approve, and fix results.

Payloads are built with discord-webhook (DiscordEmbed, DiscordWebhook.json)
but sent through opsguard.http.request, because DiscordWebhook.execute()
decodes every response as JSON and raises on the empty 204 body and on the
HTML page that Cloudflare sends when it blocks an IP address.

Text from hosts, logs and the LLM is untrusted. It goes into code blocks, so
that its Markdown renders as plain text, and every payload carries
`allowed_mentions: {"parse": []}`, so that "@everyone" or a role mention in
it pings nobody.
"""

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from discord_webhook import DiscordEmbed, DiscordWebhook

from opsguard.http import IntegrationError, redact_url, request

from .discord_limits import (
    ELLIPSIS,
    MAX_DESCRIPTION,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_VALUE,
    MAX_USERNAME,
    code_block,
    embed_text_length,
    enforce_limits,
    inline_code,
    truncate,
)

# Tests import these limits from this module.
from .discord_limits import MAX_AUTHOR_NAME as MAX_AUTHOR_NAME
from .discord_limits import MAX_CONTENT as MAX_CONTENT
from .discord_limits import MAX_FIELD_NAME as MAX_FIELD_NAME
from .discord_limits import MAX_FIELDS as MAX_FIELDS
from .discord_limits import MAX_FOOTER as MAX_FOOTER
from .discord_limits import MAX_TITLE as MAX_TITLE

logger = logging.getLogger(__name__)

# Host names and template slugs are short, so this bound only keeps a bad value
# from taking the room of the finding text.
MAX_NAME_TEXT = 256
# Room for the list of decisions that do not get an embed of their own.
MAX_MORE_LIST = 500

NO_MENTIONS: dict[str, list[str]] = {"parse": []}

# Seconds to wait after a 429 that has no JSON body and no Retry-After header.
# Cloudflare sends such pages when it blocks an IP address for a while.
HTML_RATE_LIMIT_WAIT = 60.0

RISK_COLORS = {
    "low": 0x2ECC71,
    "medium": 0xF1C40F,
    "high": 0xE67E22,
    "critical": 0xE74C3C,
}
RISK_ORDER = ["low", "medium", "high", "critical"]
NEUTRAL_COLOR = 0x95A5A6

OUTCOME_LABELS = {
    "resolved": "resolved",
    "still_present": "problem still present",
    "worse": "problem got worse",
    "job_failed": "fix job failed",
    "unknown": "result could not be checked",
    "denied": "denied",
    "rejected": "rejected",
}
OUTCOME_COLORS = {
    "resolved": 0x2ECC71,
    "still_present": 0xE67E22,
    "worse": 0xE74C3C,
    "job_failed": 0xE74C3C,
    "unknown": 0xE67E22,
    "denied": NEUTRAL_COLOR,
    "rejected": NEUTRAL_COLOR,
}
ON_TIMEOUT_TEXT = {
    "approve": "approved automatically, and the fix runs",
    "deny": "denied automatically",
}

# Discord JSON error codes that need a change of configuration, not a retry.
ERROR_HINTS = {
    10015: (
        "The webhook was deleted. Create a new webhook in the channel settings "
        "and update the Discord webhook URL setting."
    ),
    50027: (
        "The webhook token is wrong. Copy the webhook URL again from the "
        "channel's Integrations > Webhooks settings."
    ),
    50006: "The message is empty.",
}


@dataclass(frozen=True)
class DecisionLine:
    """One proposed fix in a collection cycle, waiting for a human decision.

    `title` is the finding summary and is untrusted text. `template` is the
    template slug, or None when the fix is a manual intervention. `deadline`
    must be timezone-aware. `on_timeout` is "approve", "deny" or None.
    `url` is the decision's page on the dashboard.
    """

    decision_id: int
    host: str
    title: str
    template: str | None
    risk: str | None
    deadline: datetime | None
    on_timeout: str | None
    url: str

    def __post_init__(self) -> None:
        if self.deadline is not None and self.deadline.utcoffset() is None:
            raise ValueError(
                f"deadline of decision #{self.decision_id} is a naive datetime "
                f"({self.deadline.isoformat()}). Pass an aware datetime in UTC."
            )
        if self.on_timeout is not None and self.on_timeout not in ON_TIMEOUT_TEXT:
            raise ValueError(
                f"on_timeout of decision #{self.decision_id} is "
                f"{self.on_timeout!r}. Use 'approve', 'deny' or None."
            )


@dataclass(frozen=True)
class ResultLine:
    """The outcome of one executed fix.

    `title` and `detail` (job log tail, measurements) are untrusted text.
    `outcome` is one of the keys of OUTCOME_LABELS.
    """

    decision_id: int
    host: str
    title: str
    template: str
    outcome: str
    detail: str
    url: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOME_LABELS:
            raise ValueError(
                f"outcome of decision #{self.decision_id} is {self.outcome!r}. "
                f"Use one of {', '.join(OUTCOME_LABELS)}."
            )


def build_cycle_message(
    lines: Sequence[DecisionLine], *, dashboard_url: str | None = None
) -> dict[str, Any]:
    """Build one message with an embed for each decision of a cycle.

    With more than 10 decisions, the first 9 get an embed and the last embed
    lists the others, linking to `dashboard_url` when it is given.
    """
    if not lines:
        raise ValueError(
            "build_cycle_message requires at least one DecisionLine. "
            "Send no notification for a cycle without decisions."
        )

    if len(lines) <= MAX_EMBEDS:
        embedded, listed = list(lines), []
    else:
        embedded = list(lines[: MAX_EMBEDS - 1])
        listed = list(lines[MAX_EMBEDS - 1 :])
    embeds = [_decision_embed(line) for line in embedded]
    if listed:
        embeds.append(_more_decisions_embed(listed, dashboard_url))

    payload = {
        "content": _cycle_summary(lines),
        "embeds": embeds,
        "allowed_mentions": dict(NO_MENTIONS),
    }
    return enforce_limits(payload)


def build_result_message(line: ResultLine) -> dict[str, Any]:
    """Build the message that reports the outcome of one fix."""
    label = OUTCOME_LABELS[line.outcome]
    embed = DiscordEmbed(
        title=f"Decision #{line.decision_id}: {label}",
        color=OUTCOME_COLORS[line.outcome],
    )
    _set_url(embed, line.url)
    embed.add_embed_field("Finding", code_block(line.title, MAX_FIELD_VALUE), False)
    embed.add_embed_field("Host", inline_code(line.host, MAX_NAME_TEXT))
    embed.add_embed_field("Template", inline_code(line.template, MAX_NAME_TEXT))
    embed.add_embed_field("Review", _link_text(line.url), False)

    # The end of a job log usually contains the reason for a failure, so the
    # detail keeps its end, sized to the room that the other texts leave.
    room = MAX_EMBED_TOTAL - embed_text_length(_embed_dict(embed))
    detail_limit = min(MAX_DESCRIPTION, room)
    embed.set_description(code_block(line.detail, detail_limit, keep_end=True))

    payload = {
        "content": f"Result of decision #{line.decision_id}: {label}.",
        "embeds": [_embed_dict(embed)],
        "allowed_mentions": dict(NO_MENTIONS),
    }
    return enforce_limits(payload)


class DiscordNotifier:
    """Client for the webhook of one Discord channel."""

    def __init__(
        self, webhook_url: str, *, timeout: float = 10.0, username: str = "OpsGuard"
    ) -> None:
        _check_webhook_url(webhook_url)
        _check_username(username)
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self._webhook_url = webhook_url
        self._timeout = timeout
        self._username = username

    def __repr__(self) -> str:
        # The token is in the URL path, so only scheme, host and port show.
        return f"DiscordNotifier({redact_url(self._webhook_url)!r})"

    def send(self, payload: dict[str, Any]) -> str | None:
        """Post a message and return its id, or None when Discord returns 204.

        `payload` has "content" and/or "embeds", as built by
        build_cycle_message or build_result_message. Mentions are always
        disabled and limits are enforced again before sending.

        Raises IntegrationError. On HTTP 429 `retry_after` is in seconds and
        `permanent` is False, and the caller reschedules the send.
        """
        body = self._request_body(payload)
        try:
            response = request(
                "POST",
                self._webhook_url,
                service="discord",
                timeout=self._timeout,
                json=body,
                params={"wait": "true"},
            )
        except IntegrationError as error:
            translated = _discord_error(error)
            if translated is error:
                raise
            raise translated from error
        return _message_id(response)

    def _request_body(self, payload: dict[str, Any]) -> dict[str, Any]:
        unknown = set(payload) - {"content", "embeds", "allowed_mentions"}
        if unknown:
            raise ValueError(
                f"payload has unsupported keys {sorted(unknown)}. Pass only "
                "content, embeds and allowed_mentions."
            )
        fitted = enforce_limits(payload)
        if not fitted.get("content") and not fitted["embeds"]:
            raise ValueError(
                "payload has no content and no embeds, which Discord rejects. "
                "Add content or an embed."
            )

        # wait=False keeps the library from putting "wait" into the JSON body.
        # send() passes wait=true as a query parameter instead.
        webhook = DiscordWebhook(
            self._webhook_url,
            content=fitted.get("content"),
            embeds=list(fitted["embeds"]),
            allowed_mentions=dict(NO_MENTIONS),
            username=self._username,
            wait=False,
        )
        body: dict[str, Any] = webhook.json
        return body


def _decision_embed(line: DecisionLine) -> dict[str, Any]:
    action = "approval needed" if line.template else "manual intervention needed"
    embed = DiscordEmbed(
        title=f"Decision #{line.decision_id}: {action}",
        description=code_block(line.title, MAX_DESCRIPTION),
        color=_risk_color(line.risk),
    )
    _set_url(embed, line.url)

    if line.template:
        fix = inline_code(line.template, MAX_NAME_TEXT)
    else:
        fix = "manual intervention (no template)"
    risk = inline_code(line.risk, MAX_NAME_TEXT) if line.risk else "unknown"
    embed.add_embed_field("Host", inline_code(line.host, MAX_NAME_TEXT))
    embed.add_embed_field("Fix", fix)
    embed.add_embed_field("Risk", risk)
    embed.add_embed_field("Deadline", _deadline_text(line.deadline), False)
    embed.add_embed_field("On timeout", _on_timeout_text(line), False)
    embed.add_embed_field("Review", _link_text(line.url), False)
    return _embed_dict(embed)


def _more_decisions_embed(
    listed: list[DecisionLine], dashboard_url: str | None
) -> dict[str, Any]:
    count = len(listed)
    noun = "decision" if count == 1 else "decisions"
    embed = DiscordEmbed(
        title=f"and {count} more {noun}",
        color=_risk_color(_highest_risk(listed)),
    )
    rows: list[str] = []
    if dashboard_url:
        _set_url(embed, dashboard_url)
        rows.append(f"Review all in the dashboard: {_link_text(dashboard_url)}")

    used = sum(len(row) + 1 for row in rows)
    for index, line in enumerate(listed):
        host = inline_code(line.host, 64)
        row = f"#{line.decision_id} on {host}: {_link_text(line.url)}"
        if used + len(row) + 1 > MAX_MORE_LIST:
            rows.append(f"{ELLIPSIS} and {count - index} more")
            break
        rows.append(row)
        used += len(row) + 1
    embed.set_description("\n".join(rows))
    return _embed_dict(embed)


def _cycle_summary(lines: Sequence[DecisionLine]) -> str:
    count = len(lines)
    if count == 1:
        summary = "1 decision from the latest collection cycle needs review."
    else:
        summary = f"{count} decisions from the latest collection cycle need review."
    deadlines = [line.deadline for line in lines if line.deadline is not None]
    if deadlines:
        summary += f" The first deadline is {_discord_timestamp(min(deadlines))}."
    return summary


def _deadline_text(deadline: datetime | None) -> str:
    if deadline is None:
        return "none"
    iso = deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{_discord_timestamp(deadline)} ({iso})"


def _discord_timestamp(moment: datetime) -> str:
    # Discord shows <t:UNIX:R> as relative time in the reader's locale.
    return f"<t:{math.floor(moment.timestamp())}:R>"


def _on_timeout_text(line: DecisionLine) -> str:
    if line.on_timeout is None:
        return "nothing, the decision stays pending"
    return ON_TIMEOUT_TEXT[line.on_timeout]


def _risk_color(risk: str | None) -> int:
    if risk is None:
        return NEUTRAL_COLOR
    return RISK_COLORS.get(risk.lower(), NEUTRAL_COLOR)


def _highest_risk(lines: list[DecisionLine]) -> str | None:
    known = [line.risk.lower() for line in lines if line.risk]
    ranked = [risk for risk in known if risk in RISK_ORDER]
    return max(ranked, key=RISK_ORDER.index) if ranked else None


def _set_url(embed: DiscordEmbed, url: str) -> None:
    # Discord rejects the whole message with HTTP 400 when an embed url is not
    # an absolute http(s) URL, so other values only appear as text.
    if _is_http_url(url):
        embed.set_url(url)


def _link_text(url: str) -> str:
    return truncate(url, MAX_NAME_TEXT) if url else "(no link)"


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _embed_dict(embed: DiscordEmbed) -> dict[str, Any]:
    """Return the embed's JSON object without the null members."""
    return _without_none(dict(vars(embed)))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def _check_webhook_url(webhook_url: str) -> None:
    fix = "Copy the URL from the channel's Integrations > Webhooks settings."
    try:
        parts = urlsplit(webhook_url)
        host = parts.hostname or ""
    except ValueError:
        raise ValueError(f"Discord webhook URL is not a valid URL. {fix}") from None
    if parts.scheme not in ("http", "https") or not host:
        # Only scheme and host are shown because the path contains the token.
        scheme_and_host = f"{parts.scheme}://{host}"
        raise ValueError(
            f"Discord webhook URL must be an http(s) URL with a host, got "
            f"{scheme_and_host!r}. {fix}"
        )


def _check_username(username: str) -> None:
    if not 1 <= len(username) <= MAX_USERNAME:
        raise ValueError(
            f"Discord username must be 1 to {MAX_USERNAME} characters, "
            f"got {len(username)}"
        )
    for forbidden in ("clyde", "discord"):
        # Discord rejects webhook names that contain these words (HTTP 400).
        if forbidden in username.lower():
            raise ValueError(
                f"Discord username {username!r} contains {forbidden!r}, "
                "which Discord rejects. Choose another name."
            )


def _message_id(response: requests.Response) -> str | None:
    if response.status_code == 204 or not response.content:
        return None
    # Discord posted the message even when its id cannot be read. Raising
    # here would make the caller send it twice, so this logs and returns None.
    try:
        data = response.json()
    except ValueError:
        logger.warning(
            "Discord accepted the message but returned no JSON (HTTP %d)",
            response.status_code,
        )
        return None
    message_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(message_id, str):
        logger.warning("Discord accepted the message but returned no message id")
        return None
    logger.info("Discord message %s sent", message_id)
    return message_id


def _discord_error(error: IntegrationError) -> IntegrationError:
    """Return an error that carries Discord's message, code and retry delay."""
    if error.status is None:
        return error
    if error.status == 429:
        return _rate_limit_error(error)
    body = _json_object(error.body)
    if body is None:
        return error

    message = str(body.get("message", ""))[:200]
    code = body.get("code")
    text = f"discord answered HTTP {error.status}: {message} (code {code})"
    form_errors = _flatten_form_errors(body.get("errors"))
    if form_errors:
        text += ". Invalid fields: " + "; ".join(form_errors[:5])
    hint = ERROR_HINTS.get(code) if isinstance(code, int) else None
    if hint:
        text += ". " + hint
    return IntegrationError(
        text,
        permanent=error.permanent,
        status=error.status,
        retry_after=error.retry_after,
        body=error.body,
    )


def _rate_limit_error(error: IntegrationError) -> IntegrationError:
    body = _json_object(error.body)
    retry_after = _body_retry_after(body)
    if retry_after is not None:
        scope = " (global limit)" if body and body.get("global") is True else ""
        text = (
            f"discord rate limited the webhook{scope}. Retry after {retry_after:g} s."
        )
    else:
        retry_after = error.retry_after
        if retry_after is None:
            retry_after = HTML_RATE_LIMIT_WAIT
        text = (
            "discord answered HTTP 429 without a JSON body, which Cloudflare "
            f"sends when it blocks the sender. Retry after {retry_after:g} s."
        )
    return IntegrationError(
        text,
        permanent=False,
        status=429,
        retry_after=retry_after,
        body=error.body,
    )


def _body_retry_after(body: dict[str, Any] | None) -> float | None:
    # retry_after in the JSON body is float seconds (0.641 means 641 ms).
    value = body.get("retry_after") if body else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _flatten_form_errors(errors: Any, path: str = "") -> list[str]:
    """Flatten Discord's nested form errors into "embeds.0.title: message"."""
    if not isinstance(errors, dict):
        return []
    flat: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            for item in value:
                message = item.get("message") if isinstance(item, dict) else item
                flat.append(f"{path or 'body'}: {message}")
        else:
            child = f"{path}.{key}" if path else str(key)
            flat.extend(_flatten_form_errors(value, child))
    return flat
