import secrets
import socket
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from automation.seed import seed_register_and_catalog
from incidents.models import CollectorKind, Host


class Command(BaseCommand):
    help = (
        "Seed the risk register and template catalog, register this machine as "
        "host 'localhost' and create the admin account. Safe to run again."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        seed_register_and_catalog()
        host, created = Host.objects.get_or_create(
            name="localhost",
            defaults={"collector": CollectorKind.LOCAL, "address": ""},
        )
        if created:
            self.stdout.write(
                f"Registered this machine ({socket.gethostname()}) as host localhost."
            )
        self._create_admin()

    def _create_admin(self) -> None:
        User = get_user_model()
        username = settings.OPSGUARD_ADMIN_USER
        if User.objects.filter(username=username).exists():
            return
        password = settings.OPSGUARD_ADMIN_PASSWORD
        User.objects.create_superuser(
            username=username,
            email="",
            password=password or (generated := secrets.token_urlsafe(12)),
        )
        if password:
            self.stdout.write(
                f"Created admin user {username!r} with OPSGUARD_ADMIN_PASSWORD."
            )
            return
        # Shown once: it is stored only as a hash.
        self.stdout.write(
            self.style.WARNING(
                f"Created admin user {username!r} with password: {generated}\n"
                "This password is shown once. Change it with "
                f"'.venv/bin/python manage.py changepassword {username}'."
            )
        )
