"""Queue notifications as rows and send them through Celery.

A notification is stored before it is sent, so a Discord outage delays the
message but never loses it; the row keeps each attempt's error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urljoin

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEvent
from incidents.services import record_event
from opsguard.http import IntegrationError

from .models import DecisionStatus, Notification, RiskDecision
from .notifiers.discord import (
    DecisionLine,
    DiscordNotifier,
    ResultLine,
    build_cycle_message,
    build_result_message,
)

logger = logging.getLogger(__name__)

# Eight attempts span about 10 minutes with the backoff below, longer when
# Discord's retry_after exceeds the backoff.
MAX_ATTEMPTS = 8
# Seconds to wait after the first failed attempt. The delay doubles after each
# further failure, up to MAX_RETRY_DELAY.
FIRST_RETRY_DELAY = 5.0
MAX_RETRY_DELAY = 300.0


def dashboard_url(decision: RiskDecision) -> str:
    return urljoin(settings.OPSGUARD_BASE_URL, decision.get_absolute_url())


def _decision_line(decision: RiskDecision) -> DecisionLine:
    level = decision.risk_level
    return DecisionLine(
        decision_id=decision.pk,
        host=decision.host.name,
        title=decision.finding.summary,
        template=decision.template.slug if decision.template else None,
        risk=level.name if level else None,
        deadline=decision.deadline,
        on_timeout=level.on_timeout if level else None,
        url=dashboard_url(decision),
    )


def queue_cycle(decisions: Sequence[RiskDecision]) -> Notification | None:
    """Queue one message that lists every decision opened in a cycle."""
    if not decisions or not settings.DISCORD_WEBHOOK_URL:
        return None
    lines = [_decision_line(d) for d in decisions]
    notification = Notification.objects.create(
        kind=Notification.Kind.CYCLE,
        payload=build_cycle_message(
            lines,
            dashboard_url=urljoin(
                settings.OPSGUARD_BASE_URL, reverse("dashboard:home")
            ),
        ),
    )
    notification.decisions.set(decisions)
    _send_on_commit(notification.pk)
    return notification


RESULTS = {
    DecisionStatus.DENIED: ("denied", "Nobody answered before the deadline."),
    DecisionStatus.REJECTED: ("rejected", "Rejected on the dashboard."),
}


def queue_result(
    decision_id: int, outcome: str = "", detail: str = ""
) -> Notification | None:
    """Queue the message that reports how a decision ended."""
    if not settings.DISCORD_WEBHOOK_URL:
        return None
    decision = RiskDecision.objects.select_related("host", "finding", "template").get(
        pk=decision_id
    )
    if not outcome:
        outcome, detail = RESULTS.get(
            DecisionStatus(decision.status), (decision.status, detail)
        )
    line = ResultLine(
        decision_id=decision.pk,
        host=decision.host.name,
        title=decision.finding.summary,
        template=decision.template.slug if decision.template else "",
        outcome=outcome,
        detail=detail,
        url=dashboard_url(decision),
    )
    notification = Notification.objects.create(
        kind=Notification.Kind.RESULT, payload=build_result_message(line)
    )
    notification.decisions.add(decision)
    _send_on_commit(notification.pk)
    return notification


def _send_on_commit(notification_id: int) -> None:
    from .tasks import send_notification

    transaction.on_commit(lambda: send_notification.delay(notification_id))


def deliver(notification_id: int, attempt: int = 0) -> float | None:
    """Send one queued notification; return seconds to wait before the next
    attempt, or None when there is nothing more to do.

    `attempt` is the number of attempts made before this one. Only the call
    that moves the row's counter from that number sends, so a task delivered
    twice, even while the first delivery still waits on Discord, sends once.
    """
    if not settings.DISCORD_WEBHOOK_URL:
        return None
    attempts = attempt + 1
    won = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING, attempts=attempt
    ).update(attempts=attempts)
    if not won:
        return None

    notification = Notification.objects.get(pk=notification_id)
    if attempt and _outdated(notification):
        # A request for approval sent after every decision in it was decided
        # would ask for a click that can no longer change anything.
        Notification.objects.filter(pk=notification_id).update(
            status=Notification.Status.FAILED,
            last_error="not sent: its decisions were decided before Discord took it",
        )
        return None
    payload = notification.payload
    url = settings.DISCORD_WEBHOOK_URL
    notifier = DiscordNotifier(url, timeout=settings.HTTP_TIMEOUT)
    try:
        message_id = notifier.send(payload)
    except IntegrationError as error:
        return _record_failed_attempt(notification_id, attempts, error)

    Notification.objects.filter(pk=notification_id).update(
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
        external_id=message_id or "",
        last_error="",
    )
    return None


def _outdated(notification: Notification) -> bool:
    if notification.kind != Notification.Kind.CYCLE:
        return False
    return not notification.decisions.filter(status=DecisionStatus.PENDING).exists()


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Return the seconds to wait after `attempts` failed attempts (1 or more).

    The backoff doubles from FIRST_RETRY_DELAY up to MAX_RETRY_DELAY. A longer
    `retry_after` from Discord wins, because sending earlier only uses up an
    attempt on another HTTP 429.
    """
    backoff = FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0)
    return max(retry_after or 0.0, min(backoff, MAX_RETRY_DELAY))


def _record_failed_attempt(
    notification_id: int, attempts: int, error: IntegrationError
) -> float | None:
    """Store the error of a failed attempt and return the delay before the
    next attempt, or None when the notification has failed for good."""
    if error.permanent or attempts >= MAX_ATTEMPTS:
        _mark_failed(notification_id, attempts, error)
        return None
    if error.uncertain:
        # Discord may have posted the message without responding, and webhooks
        # take no idempotency key, so sending again could post it twice.
        _mark_failed(notification_id, attempts, error, resend=False)
        return None
    if attempts == 1:
        _record_on_timeline(
            notification_id, "notification_delayed", f"Discord message delayed: {error}"
        )

    Notification.objects.filter(pk=notification_id).update(last_error=str(error))
    delay = retry_delay(attempts, error.retry_after)
    logger.warning(
        "Notification %s attempt %s of %s failed, next attempt in %.1f s: %s",
        notification_id,
        attempts,
        MAX_ATTEMPTS,
        delay,
        error,
    )
    return delay


@transaction.atomic
def _mark_failed(
    notification_id: int, attempts: int, error: IntegrationError, resend: bool = True
) -> None:
    """Mark the notification failed and record the failure on the timeline of
    each of its decisions, which the decision page and the incident page list."""
    Notification.objects.filter(pk=notification_id).update(
        status=Notification.Status.FAILED, last_error=str(error)
    )
    message = f"Discord message failed: {error}"
    if not resend:
        message = (
            f"Discord did not answer, so the message may or may not have been "
            f"posted; it is not sent again: {error}"
        )
    decision_ids = _record_on_timeline(notification_id, "notification_failed", message)
    logger.error(
        "Notification %s failed after %s attempts, so decisions %s may not have "
        "been announced on Discord: %s",
        notification_id,
        attempts,
        decision_ids,
        error,
    )


def _record_on_timeline(notification_id: int, action: str, message: str) -> list[int]:
    """Write an audit event on each decision of the notification; return their ids."""
    decisions = RiskDecision.objects.filter(
        notifications__pk=notification_id
    ).select_related("incident")
    decision_ids = []
    for decision in decisions:
        record_event(
            decision.incident,
            action=action,
            message=message,
            actor="notifier",
            channel=AuditEvent.Channel.DISCORD,
            decision_id=decision.pk,
        )
        decision_ids.append(decision.pk)
    return decision_ids
