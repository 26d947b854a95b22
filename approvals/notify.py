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

MAX_ATTEMPTS = 5


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

    payload = Notification.objects.values_list("payload", flat=True).get(
        pk=notification_id
    )
    url = settings.DISCORD_WEBHOOK_URL
    notifier = DiscordNotifier(url, timeout=settings.HTTP_TIMEOUT)
    try:
        message_id = notifier.send(payload)
    except IntegrationError as error:
        failed = error.permanent or attempts >= MAX_ATTEMPTS
        status = Notification.Status.FAILED if failed else Notification.Status.PENDING
        Notification.objects.filter(pk=notification_id).update(
            last_error=str(error),
            status=status,
        )
        logger.warning(
            "Notification %s attempt %s failed: %s", notification_id, attempts, error
        )
        if failed:
            return None
        return error.retry_after or min(300.0, 5.0 * 2**attempts)

    Notification.objects.filter(pk=notification_id).update(
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
        external_id=message_id or "",
        last_error="",
    )
    return None
