from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def launch_job(decision_id: int) -> None:
    job = services.launch(decision_id)
    if job is not None and job.state == "running":
        poll_job.apply_async((job.pk, 0), countdown=settings.JOB_POLL_SECONDS)


@shared_task
def poll_job(job_run_id: int, seen_polls: int = 0) -> None:
    if services.poll(job_run_id, seen_polls):
        poll_job.apply_async(
            (job_run_id, seen_polls + 1), countdown=settings.JOB_POLL_SECONDS
        )
