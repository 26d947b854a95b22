"""Tests for the Discord notifier, over real HTTP against FakeDiscord."""

import logging
import socket
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from approvals.notifiers.discord import (
    MAX_AUTHOR_NAME,
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FIELDS,
    MAX_FOOTER,
    MAX_TITLE,
    DecisionLine,
    DiscordNotifier,
    ResultLine,
    build_cycle_message,
    build_result_message,
    code_block,
    enforce_limits,
)
from opsguard.http import IntegrationError
from tests.fakes import discord as discord_fakes
from tests.fakes.discord import (
    FakeDiscord,
    embed_text_length,
    form_errors,
    pinged_mentions,
)

fake_discord = discord_fakes.fake_discord

DEADLINE = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def decision(decision_id: int = 1, **changes: Any) -> DecisionLine:
    values: dict[str, Any] = {
        "decision_id": decision_id,
        "host": "web-01",
        "title": "Disk /var is 97% full",
        "template": "clean-journal",
        "risk": "low",
        "deadline": DEADLINE,
        "on_timeout": "approve",
        "url": f"https://opsguard.example/decisions/{decision_id}",
    }
    values.update(changes)
    return DecisionLine(**values)


def result(**changes: Any) -> ResultLine:
    values: dict[str, Any] = {
        "decision_id": 7,
        "host": "db-01",
        "title": "postgres is down",
        "template": "restart-service",
        "outcome": "resolved",
        "detail": "systemctl restart postgresql: ok",
        "url": "https://opsguard.example/decisions/7",
    }
    values.update(changes)
    return ResultLine(**values)


def limit_violations(payload: dict[str, Any]) -> list[str]:
    """Return every Discord limit that `payload` breaks, as readable strings."""
    problems = []
    if len(payload.get("content") or "") > MAX_CONTENT:
        problems.append("content")
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        problems.append("embed count")
    for index, embed in enumerate(embeds):
        if len(embed.get("title") or "") > MAX_TITLE:
            problems.append(f"embed {index} title")
        if len(embed.get("description") or "") > MAX_DESCRIPTION:
            problems.append(f"embed {index} description")
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            problems.append(f"embed {index} field count")
        for field in fields:
            if not 1 <= len(field["name"]) <= MAX_FIELD_NAME:
                problems.append(f"embed {index} field name {field['name'][:20]}")
            if not 1 <= len(field["value"]) <= MAX_FIELD_VALUE:
                problems.append(f"embed {index} field value {field['name'][:20]}")
        if len((embed.get("footer") or {}).get("text") or "") > MAX_FOOTER:
            problems.append(f"embed {index} footer")
        if len((embed.get("author") or {}).get("name") or "") > MAX_AUTHOR_NAME:
            problems.append(f"embed {index} author")
    if sum(embed_text_length(embed) for embed in embeds) > MAX_EMBED_TOTAL:
        problems.append("embed total")
    return problems


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_send_returns_message_id(fake_discord: FakeDiscord) -> None:
    notifier = DiscordNotifier(fake_discord.webhook_url, timeout=5)

    message_id = notifier.send(build_cycle_message([decision()]))

    assert message_id is not None
    assert message_id.isdigit()
    assert len(fake_discord.messages) == 1


def test_send_asks_to_wait(fake_discord: FakeDiscord) -> None:
    DiscordNotifier(fake_discord.webhook_url).send(build_result_message(result()))

    received = fake_discord.requests[0]
    assert received.query == {"wait": ["true"]}
    assert "wait" not in received.json


def test_send_204_returns_none(fake_discord: FakeDiscord) -> None:
    fake_discord.enqueue_response(204)

    message_id = DiscordNotifier(fake_discord.webhook_url).send(
        build_result_message(result())
    )

    assert message_id is None


def test_fake_answers_204_without_wait(fake_discord: FakeDiscord) -> None:
    response = requests.post(
        fake_discord.webhook_url, json={"content": "hello"}, timeout=5
    )

    assert response.status_code == 204
    assert response.content == b""


def test_payload_disables_all_mentions(fake_discord: FakeDiscord) -> None:
    DiscordNotifier(fake_discord.webhook_url).send(build_cycle_message([decision()]))

    assert fake_discord.requests[0].json["allowed_mentions"] == {"parse": []}


def test_send_overrides_payload_mentions(fake_discord: FakeDiscord) -> None:
    payload = {
        "content": "@everyone <@&123456789012345678>",
        "allowed_mentions": {"parse": ["everyone", "roles"]},
    }

    DiscordNotifier(fake_discord.webhook_url).send(payload)

    received = fake_discord.requests[0].json
    assert received["allowed_mentions"] == {"parse": []}


def test_everyone_in_title_pings_nobody(fake_discord: FakeDiscord) -> None:
    title = "@everyone disk full <@&123456789012345678> **now**"
    payload = build_cycle_message([decision(title=title)])

    DiscordNotifier(fake_discord.webhook_url).send(payload)

    received = fake_discord.requests[0].json
    description = received["embeds"][0]["description"]
    assert description == "```\n" + title + "\n```"
    assert "@everyone" not in received["content"]
    assert received["allowed_mentions"] == {"parse": []}


def test_sent_message_pings_nobody(fake_discord: FakeDiscord) -> None:
    notifier = DiscordNotifier(fake_discord.webhook_url)
    line = result(title="@everyone <@&123456789012345678>", detail="@here")

    notifier.send(build_result_message(line))

    sent = fake_discord.messages[0]
    pings = pinged_mentions(sent["content"], sent["allowed_mentions"])
    assert pings == (False, [])


def test_backticks_cannot_close_block() -> None:
    title = "```\n@everyone **bold**\n``` and ````four"

    description = build_cycle_message([decision(title=title)])["embeds"][0][
        "description"
    ]

    inner = description[len("```\n") : -len("\n```")]
    assert description.startswith("```\n")
    assert description.endswith("\n```")
    assert "``" not in inner


def test_result_detail_keeps_end() -> None:
    detail = "start " + "x" * 10_000 + " the real error"

    embed = build_result_message(result(detail=detail))["embeds"][0]

    assert embed["description"].endswith(" the real error\n```")
    assert embed["description"].startswith("```\n…")
    assert len(embed["description"]) <= MAX_DESCRIPTION


def test_result_message_fits_limits() -> None:
    line = result(
        title="t" * 9000, detail="d" * 9000, host="h" * 3000, template="s" * 3000
    )

    payload = build_result_message(line)

    assert limit_violations(payload) == []


def test_result_unknown_outcome_rejected() -> None:
    with pytest.raises(ValueError, match="outcome of decision #7 is 'fixed'"):
        result(outcome="fixed")


def test_cycle_embed_per_decision() -> None:
    lines = [decision(i) for i in range(1, 4)]

    payload = build_cycle_message(lines)

    titles = [embed["title"] for embed in payload["embeds"]]
    assert titles == [f"Decision #{i}: approval needed" for i in range(1, 4)]
    assert payload["content"].startswith("3 decisions")


def test_cycle_embed_fields() -> None:
    embed = build_cycle_message([decision(risk="high")])["embeds"][0]

    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields["Host"] == "`web-01`"
    assert fields["Fix"] == "`clean-journal`"
    assert fields["Risk"] == "`high`"
    assert fields["On timeout"] == "approved automatically, and the fix runs"
    assert fields["Review"] == "https://opsguard.example/decisions/1"
    assert embed["url"] == "https://opsguard.example/decisions/1"


def test_deadline_shows_timestamp_and_iso() -> None:
    embed = build_cycle_message([decision()])["embeds"][0]

    fields = {field["name"]: field["value"] for field in embed["fields"]}
    unix = int(DEADLINE.timestamp())
    assert fields["Deadline"] == f"<t:{unix}:R> (2030-01-02T03:04:05Z)"


def test_deadline_converted_to_utc() -> None:
    local = DEADLINE.astimezone(timezone(timedelta(hours=2)))

    embed = build_cycle_message([decision(deadline=local)])["embeds"][0]

    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields["Deadline"].endswith("(2030-01-02T03:04:05Z)")


def test_naive_deadline_rejected() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        decision(deadline=datetime(2030, 1, 1, 0, 0))


def test_unknown_on_timeout_rejected() -> None:
    with pytest.raises(ValueError, match="'approve', 'deny' or None"):
        decision(on_timeout="escalate")


def test_manual_intervention_without_template() -> None:
    embed = build_cycle_message([decision(template=None)])["embeds"][0]

    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert embed["title"] == "Decision #1: manual intervention needed"
    assert fields["Fix"] == "manual intervention (no template)"


def test_no_deadline_and_no_timeout() -> None:
    embed = build_cycle_message([decision(deadline=None, on_timeout=None)])["embeds"][0]

    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields["Deadline"] == "none"
    assert fields["On timeout"] == "nothing, the decision stays pending"


def test_colors_follow_risk() -> None:
    risks = ["low", "medium", "high", "critical", None]
    lines = [decision(i, risk=risk) for i, risk in enumerate(risks)]

    colors = [embed["color"] for embed in build_cycle_message(lines)["embeds"]]

    assert len(set(colors)) == len(risks)


def test_relative_url_not_embed_link(fake_discord: FakeDiscord) -> None:
    payload = build_cycle_message([decision(url="/decisions/1")])

    DiscordNotifier(fake_discord.webhook_url).send(payload)

    assert "url" not in fake_discord.messages[0]["embeds"][0]


def test_empty_cycle_rejected() -> None:
    with pytest.raises(ValueError, match="at least one DecisionLine"):
        build_cycle_message([])


def test_ten_decisions_ten_embeds() -> None:
    lines = [decision(i) for i in range(10)]

    embeds = build_cycle_message(lines)["embeds"]

    assert len(embeds) == 10
    assert embeds[-1]["title"] == "Decision #9: approval needed"


def test_more_than_ten_summarised() -> None:
    lines = [decision(i) for i in range(1, 26)]

    embeds = build_cycle_message(
        lines, dashboard_url="https://opsguard.example/decisions/"
    )["embeds"]

    assert len(embeds) == 10
    assert embeds[8]["title"] == "Decision #9: approval needed"
    assert embeds[9]["title"] == "and 16 more decisions"
    assert embeds[9]["url"] == "https://opsguard.example/decisions/"
    assert "#10 on `web-01`" in embeds[9]["description"]


def test_more_embed_uses_highest_risk() -> None:
    lines = [decision(i) for i in range(11)]
    lines.append(decision(11, risk="critical"))

    embeds = build_cycle_message(lines)["embeds"]

    critical = build_cycle_message([decision(risk="critical")])["embeds"][0]
    assert embeds[9]["color"] == critical["color"]


def test_25_long_decisions_fit_limits(fake_discord: FakeDiscord) -> None:
    lines = [
        decision(
            i,
            title=f"finding {i} " + "x" * 5000,
            host="host-" + "h" * 5000,
            template="t" * 5000,
            risk="r" * 5000,
        )
        for i in range(25)
    ]

    payload = build_cycle_message(lines)

    assert limit_violations(payload) == []
    assert form_errors(payload) == {}
    assert len(payload["embeds"]) == MAX_EMBEDS
    assert payload["embeds"][0]["description"].endswith("…\n```")

    message_id = DiscordNotifier(fake_discord.webhook_url).send(payload)
    assert message_id is not None


def test_enforce_limits_on_raw_payload() -> None:
    embed = {
        "title": "t" * 1000,
        "description": "d" * 9000,
        "fields": [{"name": "n" * 500, "value": "v" * 3000}] * 30,
        "footer": {"text": "f" * 3000},
        "author": {"name": "a" * 1000},
    }
    payload = {"content": "c" * 3000, "embeds": [embed] * 12}

    fitted = enforce_limits(payload)

    assert limit_violations(fitted) == []


def test_enforce_limits_fills_empty_field() -> None:
    payload = {"embeds": [{"title": "x", "fields": [{"name": "", "value": ""}]}]}

    fitted = enforce_limits(payload)

    assert form_errors(fitted) == {}


def test_code_block_truncates_start() -> None:
    block = code_block("a" * 100, 20)

    assert len(block) == 20
    assert block == "```\n" + "a" * 11 + "…\n```"


def test_429_json_retry_after_float(fake_discord: FakeDiscord) -> None:
    fake_discord.enqueue_rate_limit(0.641)
    notifier = DiscordNotifier(fake_discord.webhook_url)

    with pytest.raises(IntegrationError) as caught:
        notifier.send(build_result_message(result()))

    assert caught.value.retry_after == 0.641
    assert caught.value.permanent is False
    assert caught.value.status == 429
    assert len(fake_discord.requests) == 1


def test_429_html_uses_header(fake_discord: FakeDiscord) -> None:
    fake_discord.enqueue_html_rate_limit(retry_after=1800)
    notifier = DiscordNotifier(fake_discord.webhook_url)

    with pytest.raises(IntegrationError) as caught:
        notifier.send(build_result_message(result()))

    assert caught.value.retry_after == 1800.0
    assert caught.value.permanent is False


def test_429_html_without_header_waits_60(fake_discord: FakeDiscord) -> None:
    fake_discord.enqueue_html_rate_limit()
    notifier = DiscordNotifier(fake_discord.webhook_url)

    with pytest.raises(IntegrationError) as caught:
        notifier.send(build_result_message(result()))

    assert caught.value.retry_after == 60.0
    assert "Cloudflare" in str(caught.value)


def test_unknown_webhook_is_permanent(fake_discord: FakeDiscord) -> None:
    url = f"{fake_discord.base_url}/api/webhooks/1/{fake_discord.token}"

    with pytest.raises(IntegrationError) as caught:
        DiscordNotifier(url).send(build_result_message(result()))

    assert caught.value.permanent is True
    assert caught.value.status == 404
    assert "Unknown Webhook (code 10015)" in str(caught.value)
    assert fake_discord.token not in str(caught.value)


def test_wrong_token_is_permanent(fake_discord: FakeDiscord) -> None:
    url = f"{fake_discord.base_url}/api/webhooks/{fake_discord.webhook_id}/wrong"

    with pytest.raises(IntegrationError) as caught:
        DiscordNotifier(url).send(build_result_message(result()))

    assert caught.value.permanent is True
    assert caught.value.status == 401
    assert "code 50027" in str(caught.value)


def test_form_error_lists_fields(fake_discord: FakeDiscord) -> None:
    errors = {"embeds": {"0": {"title": {"_errors": [{"message": "Too long."}]}}}}
    fake_discord.enqueue_error(400, "Invalid Form Body", 50035, errors)

    with pytest.raises(IntegrationError) as caught:
        DiscordNotifier(fake_discord.webhook_url).send(build_result_message(result()))

    assert caught.value.permanent is True
    assert "Invalid Form Body (code 50035)" in str(caught.value)
    assert "embeds.0.title: Too long." in str(caught.value)


def test_server_error_is_transient(fake_discord: FakeDiscord) -> None:
    fake_discord.enqueue_error(500, "500: Internal Server Error", 0)

    with pytest.raises(IntegrationError) as caught:
        DiscordNotifier(fake_discord.webhook_url).send(build_result_message(result()))

    assert caught.value.permanent is False
    assert caught.value.status == 500


def test_token_never_logged(
    fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = DiscordNotifier(fake_discord.webhook_url)

    with caplog.at_level(logging.DEBUG):
        notifier.send(build_result_message(result()))
        fake_discord.enqueue_rate_limit()
        with pytest.raises(IntegrationError):
            notifier.send(build_result_message(result()))

    assert fake_discord.token not in caplog.text
    assert fake_discord.token not in repr(notifier)


def test_closed_port_is_transient() -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/webhooks/1/secret-token"
    notifier = DiscordNotifier(url, timeout=1)

    with pytest.raises(IntegrationError) as caught:
        notifier.send(build_result_message(result()))

    assert caught.value.permanent is False
    assert "secret-token" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://discord.com/api/webhooks/1/secret-token",
        "discord.com/api/webhooks/1/secret-token",
        "https:///api/webhooks/1/secret-token",
        "http://[::1/api/webhooks/1/secret-token",
    ],
)
def test_invalid_webhook_url_rejected(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        DiscordNotifier(url)

    assert "secret-token" not in str(caught.value)
    assert "webhook URL" in str(caught.value)


@pytest.mark.parametrize("username", ["", "x" * 81, "Discord alerts", "clyde"])
def test_invalid_username_rejected(username: str) -> None:
    with pytest.raises(ValueError, match="username"):
        DiscordNotifier("https://discord.com/api/webhooks/1/t", username=username)


def test_unknown_payload_key_rejected() -> None:
    notifier = DiscordNotifier("https://discord.com/api/webhooks/1/t")

    with pytest.raises(ValueError, match="unsupported keys"):
        notifier.send({"content": "x", "tts": True})


def test_empty_payload_rejected() -> None:
    notifier = DiscordNotifier("https://discord.com/api/webhooks/1/t")

    with pytest.raises(ValueError, match="no content and no embeds"):
        notifier.send({"content": ""})


def test_fake_rejects_long_content(fake_discord: FakeDiscord) -> None:
    response = requests.post(
        fake_discord.webhook_url, json={"content": "x" * 2001}, timeout=5
    )

    assert response.status_code == 400
    assert response.json()["code"] == 50035
    assert "content" in response.json()["errors"]


def test_fake_rejects_empty_message(fake_discord: FakeDiscord) -> None:
    response = requests.post(fake_discord.webhook_url, json={}, timeout=5)

    assert response.status_code == 400
    assert response.json() == {"message": "Cannot send an empty message", "code": 50006}


def test_fake_rejects_embed_total(fake_discord: FakeDiscord) -> None:
    embeds = [{"description": "d" * 4000}, {"description": "d" * 2001}]
    response = requests.post(
        fake_discord.webhook_url, json={"embeds": embeds}, timeout=5
    )

    assert response.status_code == 400
    assert response.json()["errors"]["embeds"]["_errors"][0]["code"] == (
        "MAX_EMBED_SIZE_EXCEEDED"
    )


def test_fake_message_shows_mention_flags(fake_discord: FakeDiscord) -> None:
    url = fake_discord.webhook_url + "?wait=true"
    pinging = requests.post(url, json={"content": "@everyone"}, timeout=5).json()
    silent_payload = {"content": "@everyone", "allowed_mentions": {"parse": []}}
    silent = requests.post(url, json=silent_payload, timeout=5).json()

    assert pinging["mention_everyone"] is True
    assert silent["mention_everyone"] is False


def test_fake_rate_limit_headers(fake_discord: FakeDiscord) -> None:
    fake_discord.enqueue_rate_limit(0.641)
    response = requests.post(fake_discord.webhook_url, json={"content": "x"}, timeout=5)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Via"] == "1.1 google"
    assert response.json()["retry_after"] == 0.641
