from celery import shared_task

from . import services
from .cycle import run_cycle


@shared_task
def collect_all() -> int:
    """Run one collection cycle; return the number of findings raised."""
    return len(run_cycle().findings)


@shared_task
def prune_snapshots() -> int:
    return services.prune_snapshots()
