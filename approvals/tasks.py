from celery import shared_task

from incidents.models import AuditEvent

from . import notify, services


@shared_task
def expire_decision(decision_id: int) -> str:
    return services.expire(decision_id, AuditEvent.Channel.TIMEOUT).message


@shared_task
def sweep_overdue_decisions() -> int:
    return services.sweep_overdue()


@shared_task
def send_notification(notification_id: int, attempt: int = 0) -> None:
    delay = notify.deliver(notification_id, attempt)
    if delay is not None:
        send_notification.apply_async((notification_id, attempt + 1), countdown=delay)
