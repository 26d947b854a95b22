from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import RiskDecision, RiskLevel


@receiver(post_save, sender=RiskLevel)
def create_approve_permission(sender: type, instance: RiskLevel, **kwargs: Any) -> None:
    """Give every risk level an "approve_<name>" permission, so levels that
    an admin adds can be granted like the seeded ones."""
    content_type = ContentType.objects.get_for_model(RiskDecision)
    Permission.objects.get_or_create(
        content_type=content_type,
        codename=instance.permission_codename,
        defaults={"name": f"Can approve {instance.name}-risk decisions"},
    )
