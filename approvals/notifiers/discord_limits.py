"""Discord's text and count limits, and Markdown that fits untrusted text into them.

The limits below are those of the Discord API v10 for messages and embeds.
Discord rejects a message that breaks one with HTTP 400, so every text is
truncated with "…" before sending.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
# Sum of all titles, descriptions, field names and values, footers and author
# names across the embeds of one message.
MAX_EMBED_TOTAL = 6000
MAX_USERNAME = 80

ELLIPSIS = "…"
# Discord rejects an empty field value but shows this zero-width space as blank.
BLANK_VALUE = "\u200b"
FENCE_OPEN = "```\n"
FENCE_CLOSE = "\n```"
MIN_CODE_BLOCK = len(FENCE_OPEN) + len(FENCE_CLOSE) + 2


def code_block(text: str, limit: int, *, keep_end: bool = False) -> str:
    """Wrap untrusted text in a code block of at most `limit` characters.

    Backtick runs inside are broken with zero-width spaces, so the text cannot
    close the block. Long text keeps its start, or its end with `keep_end`.
    """
    if limit < MIN_CODE_BLOCK:
        raise ValueError(
            f"code block limit must be at least {MIN_CODE_BLOCK}, got {limit}"
        )
    inner = _break_backtick_runs(text) if text.strip() else "(empty)"
    room = limit - len(FENCE_OPEN) - len(FENCE_CLOSE)
    if len(inner) > room:
        if keep_end:
            inner = ELLIPSIS + inner[len(inner) - room + 1 :]
        else:
            inner = inner[: room - 1] + ELLIPSIS
    return FENCE_OPEN + inner + FENCE_CLOSE


def inline_code(text: str, limit: int) -> str:
    """Format a short untrusted name, such as a host, as inline code."""
    flat = " ".join(text.split()).replace("`", "ˋ")
    if not flat:
        return "(none)"
    return "`" + truncate(flat, limit - 2) + "`"


def truncate(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, marking the cut with "…".

    Code blocks and inline code stay closed. Text with several lines is cut
    after a whole line when that keeps at least half of the limit.
    """
    if limit < 1:
        raise ValueError(f"truncate limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    if _is_code_block(text) and limit >= MIN_CODE_BLOCK:
        inner = text[len(FENCE_OPEN) : -len(FENCE_CLOSE)]
        room = limit - len(FENCE_OPEN) - len(FENCE_CLOSE)
        return FENCE_OPEN + inner[: room - 1] + ELLIPSIS + FENCE_CLOSE
    if _is_inline_code(text) and limit >= 4:
        return text[: limit - 2] + ELLIPSIS + "`"

    head = text[: limit - 1]
    line_end = head.rfind("\n")
    if line_end >= limit // 2:
        head = head[: line_end + 1]
    return head + ELLIPSIS


def enforce_limits(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `payload` that fits every Discord text and count limit.

    Embeds after the 10th are dropped. When the embeds together exceed 6000
    characters, the longest texts are cut to a common length.
    """
    result = dict(payload)
    content = result.get("content")
    if isinstance(content, str):
        result["content"] = truncate(content, MAX_CONTENT)

    embeds = list(result.get("embeds") or [])
    if len(embeds) > MAX_EMBEDS:
        logger.warning(
            "Dropping %d Discord embeds over the limit of %d per message",
            len(embeds) - MAX_EMBEDS,
            MAX_EMBEDS,
        )
    limited = [_limit_embed(embed) for embed in embeds[:MAX_EMBEDS]]
    result["embeds"] = _fit_embed_total(limited)
    return result


def _break_backtick_runs(text: str) -> str:
    return re.sub(r"`(?=`)", "`\u200b", text)


def _is_inline_code(text: str) -> bool:
    return (
        len(text) >= 3
        and text.startswith("`")
        and text.endswith("`")
        and "`" not in text[1:-1]
    )


def _is_code_block(text: str) -> bool:
    fences = len(FENCE_OPEN) + len(FENCE_CLOSE)
    return (
        len(text) >= fences
        and text.startswith(FENCE_OPEN)
        and text.endswith(FENCE_CLOSE)
    )


def _limit_embed(embed: dict[str, Any]) -> dict[str, Any]:
    result = dict(embed)
    fields = list(result.get("fields") or [])
    if len(fields) > MAX_FIELDS:
        logger.warning(
            "Dropping %d embed fields over the Discord limit of %d per embed",
            len(fields) - MAX_FIELDS,
            MAX_FIELDS,
        )
    if "fields" in result:
        result["fields"] = [_limit_field(field) for field in fields[:MAX_FIELDS]]

    for key, limit in (("title", MAX_TITLE), ("description", MAX_DESCRIPTION)):
        if isinstance(result.get(key), str):
            result[key] = truncate(result[key], limit)
    for key, member, limit in (
        ("footer", "text", MAX_FOOTER),
        ("author", "name", MAX_AUTHOR_NAME),
    ):
        part = result.get(key)
        if isinstance(part, dict) and isinstance(part.get(member), str):
            result[key] = {**part, member: truncate(part[member], limit)}
    return result


def _limit_field(field: dict[str, Any]) -> dict[str, Any]:
    name = str(field.get("name") or "") or BLANK_VALUE
    value = str(field.get("value") or "") or BLANK_VALUE
    return {
        **field,
        "name": truncate(name, MAX_FIELD_NAME),
        "value": truncate(value, MAX_FIELD_VALUE),
    }


def _fit_embed_total(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lengths = [len(text) for embed in embeds for text in _embed_texts(embed)]
    if sum(lengths) <= MAX_EMBED_TOTAL:
        return embeds
    cap = _water_level(lengths, MAX_EMBED_TOTAL)
    return [_map_embed_texts(embed, lambda t: truncate(t, cap)) for embed in embeds]


def _water_level(lengths: list[int], budget: int) -> int:
    """Return the largest cap where the lengths, each cut to the cap, fit budget."""
    low, high = 0, max(lengths)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(length, middle) for length in lengths) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def embed_text_length(embed: dict[str, Any]) -> int:
    return sum(len(text) for text in _embed_texts(embed))


def _embed_texts(embed: dict[str, Any]) -> list[str]:
    """Return the texts that count toward the 6000-character embed total."""
    texts: list[str] = []

    def collect(text: str) -> str:
        texts.append(text)
        return text

    _map_embed_texts(embed, collect)
    return texts


def _map_embed_texts(
    embed: dict[str, Any], transform: Callable[[str], str]
) -> dict[str, Any]:
    result = dict(embed)
    for key in ("title", "description"):
        if isinstance(result.get(key), str):
            result[key] = transform(result[key])
    if isinstance(result.get("fields"), list):
        result["fields"] = [
            _map_field_texts(field, transform) for field in result["fields"]
        ]
    for key, member in (("footer", "text"), ("author", "name")):
        part = result.get(key)
        if isinstance(part, dict) and isinstance(part.get(member), str):
            result[key] = {**part, member: transform(part[member])}
    return result


def _map_field_texts(
    field: dict[str, Any], transform: Callable[[str], str]
) -> dict[str, Any]:
    result = dict(field)
    for key in ("name", "value"):
        if isinstance(result.get(key), str):
            result[key] = transform(result[key])
    return result
