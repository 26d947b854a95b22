"""Tests for queued notifications and their delivery to a fake Discord."""

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from approvals.models import DecisionStatus, Notification, RiskDecision
from approvals.notify import (
    MAX_ATTEMPTS,
    deliver,
    queue_cycle,
    queue_result,
    retry_delay,
)
from incidents.models import AuditEvent
from tests.factories import make_decision
from tests.fakes.discord import FakeDiscord
from tests.fakes.server import ScriptedResponse, json_response

RESTART = {"service": "nginx.service"}


@pytest.fixture
def discord(settings: Any) -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        settings.DISCORD_WEBHOOK_URL = fake.webhook_url
        settings.HTTP_TIMEOUT = 5.0
        yield fake


@pytest.fixture
def no_discord(settings: Any) -> None:
    settings.DISCORD_WEBHOOK_URL = ""


@pytest.fixture
def decisions(register: Any, local_host: Any) -> list[RiskDecision]:
    return [
        make_decision(local_host),
        make_decision(local_host, "restart_service", RESTART),
    ]


def queued(decisions: list[RiskDecision]) -> Notification:
    notification = queue_cycle(decisions)
    assert notification is not None
    return notification


def reload(notification: Notification) -> Notification:
    return Notification.objects.get(pk=notification.pk)


def embed_titles(payload: dict[str, Any]) -> list[str]:
    return [embed.get("title", "") for embed in payload.get("embeds", [])]


def failure_events() -> list[AuditEvent]:
    events = AuditEvent.objects.filter(action="notification_failed")
    return list(events.order_by("decision_id"))


def failure_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "approvals.notify" and record.levelno == logging.ERROR
    ]


# Queueing


def test_queue_cycle_one_row_for_all(discord, decisions):
    notification = queued(decisions)

    assert Notification.objects.count() == 1
    assert notification.kind == Notification.Kind.CYCLE
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 0
    assert set(notification.decisions.all()) == set(decisions)
    titles = " ".join(embed_titles(notification.payload))
    for decision in decisions:
        assert f"Decision #{decision.pk}" in titles


def test_queue_cycle_without_decisions(db, discord):
    assert queue_cycle([]) is None
    assert not Notification.objects.exists()


def test_queue_result_for_rejected(discord, decisions):
    decision = decisions[0]
    RiskDecision.objects.filter(pk=decision.pk).update(status=DecisionStatus.REJECTED)

    notification = queue_result(decision.pk)

    assert notification is not None
    assert notification.kind == Notification.Kind.RESULT
    assert list(notification.decisions.all()) == [decision]
    assert "rejected" in str(notification.payload).lower()


def test_queue_result_with_outcome(discord, decisions):
    notification = queue_result(decisions[0].pk, "resolved", "disk at 40 %")

    assert notification is not None
    assert "disk at 40 %" in str(notification.payload)


def test_no_webhook_queues_nothing(no_discord, decisions):
    assert queue_cycle(decisions) is None
    assert queue_result(decisions[0].pk, "resolved", "ok") is None
    assert not Notification.objects.exists()


def test_queue_sends_on_commit(discord, decisions, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        queue_cycle(decisions)

    assert len(callbacks) == 1


# Delivery


def test_deliver_success_stores_message_id(discord, decisions):
    notification = queued(decisions)

    assert deliver(notification.pk) is None

    sent = reload(notification)
    assert sent.status == Notification.Status.SENT
    assert sent.external_id.isdigit()
    assert sent.sent_at is not None
    assert sent.attempts == 1
    assert sent.last_error == ""
    assert len(discord.messages) == 1
    assert discord.messages[0]["embeds"] == notification.payload["embeds"]


def test_deliver_rate_limited_stays_pending(discord, decisions):
    notification = queued(decisions)
    discord.enqueue_rate_limit(0.641)

    # Discord's retry_after of 0.641 s is shorter than the first backoff.
    assert deliver(notification.pk) == 5.0

    row = reload(notification)
    assert row.status == Notification.Status.PENDING
    assert row.attempts == 1
    assert "rate limited" in row.last_error
    assert discord.token not in row.last_error
    assert discord.messages == []


def test_deliver_after_rate_limit_sends(discord, decisions):
    notification = queued(decisions)
    discord.enqueue_rate_limit(0.641)
    deliver(notification.pk, attempt=0)

    assert deliver(notification.pk, attempt=1) is None

    row = reload(notification)
    assert row.status == Notification.Status.SENT
    assert row.attempts == 2
    assert row.last_error == ""


def test_deliver_backoff_without_retry_after(discord, decisions):
    # HTTP 408 is transient but carries no delay, so the backoff applies.
    notification = queued(decisions)
    discord.enqueue_response(408)

    assert deliver(notification.pk) == 5.0


def test_deliver_longer_retry_after_wins(
    discord: FakeDiscord, decisions: list[RiskDecision]
) -> None:
    notification = queued(decisions)
    discord.enqueue_rate_limit(60.0)

    assert deliver(notification.pk) == 60.0


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [
        (1, None, 5.0),
        (2, None, 10.0),
        (4, None, 40.0),
        (6, None, 160.0),
        (7, None, 300.0),
        (12, None, 300.0),
        (3, 2.5, 20.0),
        (1, 60.0, 60.0),
        (7, 1800.0, 1800.0),
    ],
)
def test_retry_delay_table(
    attempts: int, retry_after: float | None, expected: float
) -> None:
    assert retry_delay(attempts, retry_after) == expected


def test_deliver_read_timeout_posts_once(
    discord: FakeDiscord, decisions: list[RiskDecision], settings: Any
) -> None:
    settings.HTTP_TIMEOUT = 0.2
    notification = queued(decisions)
    reply = json_response(200, {"id": "1"})
    for _ in range(3):
        discord.enqueue(ScriptedResponse(200, reply.headers, reply.body, delay=2.0))

    # Discord may have posted it, so it is not sent again, and the timeline
    # records that the outcome is unknown.
    assert deliver(notification.pk) is None

    request_count = len(discord.requests)
    row = reload(notification)
    assert request_count == 1
    assert row.status == Notification.Status.FAILED
    assert "read timed out" in row.last_error
    assert all("may or may not" in e.message for e in failure_events())


def test_first_failure_noted_on_timeline(
    discord: FakeDiscord, decisions: list[RiskDecision]
) -> None:
    notification = queued(decisions)
    discord.enqueue_response(503, "upstream connect error")

    deliver(notification.pk)

    delayed = AuditEvent.objects.filter(action="notification_delayed")
    assert delayed.count() == len(decisions)


def test_retry_dropped_once_all_decided(
    discord: FakeDiscord, decisions: list[RiskDecision]
) -> None:
    notification = queued(decisions)
    discord.enqueue_response(503, "upstream connect error")
    deliver(notification.pk)
    RiskDecision.objects.update(status=DecisionStatus.APPROVED)

    assert deliver(notification.pk, attempt=1) is None

    assert len(discord.requests) == 1
    assert reload(notification).status == Notification.Status.FAILED


def test_deliver_503_posts_once(
    discord: FakeDiscord, decisions: list[RiskDecision]
) -> None:
    notification = queued(decisions)
    for _ in range(3):
        discord.enqueue_response(503, "upstream connect error")

    assert deliver(notification.pk) == 5.0

    request_count = len(discord.requests)
    assert request_count == 1
    assert failure_events() == []


def test_deliver_permanent_error_fails(discord, decisions):
    notification = queued(decisions)
    discord.enqueue_error(404, "Unknown Webhook", 10015)

    assert deliver(notification.pk) is None

    row = reload(notification)
    assert row.status == Notification.Status.FAILED
    assert "Unknown Webhook" in row.last_error
    assert discord.token not in row.last_error


def test_permanent_error_records_audit_events(
    discord: FakeDiscord,
    decisions: list[RiskDecision],
    caplog: pytest.LogCaptureFixture,
) -> None:
    notification = queued(decisions)
    discord.enqueue_error(404, "Unknown Webhook", 10015)

    with caplog.at_level(logging.ERROR, logger="approvals.notify"):
        deliver(notification.pk)

    events = failure_events()
    assert [event.decision_id for event in events] == [d.pk for d in decisions]
    for event, decision in zip(events, decisions, strict=True):
        assert event.incident_id == decision.incident_id
        assert event.actor == "notifier"
        assert event.channel == AuditEvent.Channel.DISCORD
        assert event.message.startswith("Discord message failed: ")
        assert "Unknown Webhook" in event.message
        assert discord.token not in event.message
    logs = failure_logs(caplog)
    assert len(logs) == 1
    assert f"Notification {notification.pk} failed" in logs[0]
    assert discord.token not in caplog.text


def test_deliver_backoff_sequence(
    discord: FakeDiscord, decisions: list[RiskDecision]
) -> None:
    notification = queued(decisions)
    # Discord's retry_after is 2.5 s each time, less than every backoff delay.
    for _ in range(MAX_ATTEMPTS):
        discord.enqueue_rate_limit(2.5)

    delays = [deliver(notification.pk, attempt) for attempt in range(MAX_ATTEMPTS)]

    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, None]
    assert len(discord.requests) == MAX_ATTEMPTS


def test_deliver_fails_after_max_attempts(
    discord: FakeDiscord,
    decisions: list[RiskDecision],
    caplog: pytest.LogCaptureFixture,
) -> None:
    notification = queued(decisions)
    for _ in range(MAX_ATTEMPTS):
        discord.enqueue_rate_limit(2.5)

    with caplog.at_level(logging.ERROR, logger="approvals.notify"):
        for attempt in range(MAX_ATTEMPTS - 1):
            deliver(notification.pk, attempt)
        assert failure_events() == []
        deliver(notification.pk, MAX_ATTEMPTS - 1)

    row = reload(notification)
    assert row.status == Notification.Status.FAILED
    assert row.attempts == MAX_ATTEMPTS
    assert deliver(notification.pk, MAX_ATTEMPTS) is None
    assert len(discord.requests) == MAX_ATTEMPTS
    events = failure_events()
    assert [event.decision_id for event in events] == [d.pk for d in decisions]
    for event in events:
        assert "rate limited" in event.message
        assert discord.token not in event.message
    logs = failure_logs(caplog)
    assert len(logs) == 1
    assert f"after {MAX_ATTEMPTS} attempts" in logs[0]


def test_deliver_success_records_no_event(
    discord: FakeDiscord, decisions: list[RiskDecision]
) -> None:
    notification = queued(decisions)

    deliver(notification.pk)

    assert failure_events() == []


def test_deliver_twice_sends_once(discord, decisions):
    notification = queued(decisions)

    deliver(notification.pk)
    deliver(notification.pk)

    assert len(discord.messages) == 1
    assert reload(notification).attempts == 1


def test_deliver_without_webhook_keeps_row(discord, decisions, settings):
    notification = queued(decisions)
    settings.DISCORD_WEBHOOK_URL = ""

    assert deliver(notification.pk) is None

    row = reload(notification)
    assert row.status == Notification.Status.PENDING
    assert row.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_deliver_during_send_sends_once(discord, decisions):
    notification = queued(decisions)
    # The first request waits 0.5 s on Discord, so the first delivery is still
    # sending when the second delivery starts.
    reply = json_response(200, {"id": "1"})
    discord.enqueue(ScriptedResponse(200, reply.headers, reply.body, delay=0.5))

    def first() -> None:
        try:
            deliver(notification.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    give_up = time.monotonic() + 5
    while not discord.requests and time.monotonic() < give_up:
        time.sleep(0.01)
    deliver(notification.pk)
    thread.join(10)

    request_count = len(discord.requests)
    assert request_count == 1
