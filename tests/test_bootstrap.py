"""Tests for `manage.py bootstrap`: register, catalog, host and admin account."""

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from approvals.models import RiskLevel, TimeoutAction
from automation.models import ExecutorKind, RemediationTemplate
from incidents.models import CollectorKind, Host

pytestmark = pytest.mark.django_db

PASSWORD_LINE = re.compile(r"with password: (\S+)")


@pytest.fixture(autouse=True)
def admin_settings(settings: Any) -> None:
    settings.OPSGUARD_ADMIN_USER = "admin"
    settings.OPSGUARD_ADMIN_PASSWORD = ""
    # The default PBKDF2 hasher is slow by design, and these tests need no
    # strong hashes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bootstrap() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_bootstrap_seeds_register():
    bootstrap()

    levels = {
        level.name: (level.timeout_seconds, level.on_timeout)
        for level in RiskLevel.objects.all()
    }
    assert levels == {
        "low": (300, TimeoutAction.APPROVE),
        "medium": (900, TimeoutAction.APPROVE),
        "high": (3600, TimeoutAction.DENY),
    }
    ranks = list(RiskLevel.objects.values_list("name", flat=True))
    assert ranks == ["low", "medium", "high"]


def test_bootstrap_seeds_catalog():
    bootstrap()

    templates = {
        t.slug: (t.risk_level.name, t.executor, t.enabled)
        for t in RemediationTemplate.objects.select_related("risk_level")
    }
    assert templates == {
        "disk_cleanup": ("low", ExecutorKind.LOCAL, True),
        "kill_process": ("medium", ExecutorKind.LOCAL, True),
        "reboot": ("medium", ExecutorKind.LOCAL, True),
        "restart_service": ("low", ExecutorKind.LOCAL, True),
    }
    reboot = RemediationTemplate.objects.get(slug="reboot")
    assert reboot.hypervisor_risk_level.name == "high"


def test_bootstrap_registers_localhost():
    output = bootstrap()

    host = Host.objects.get()
    assert host.name == "localhost"
    assert host.collector == CollectorKind.LOCAL
    assert host.address == ""
    assert "as host localhost" in output


def test_bootstrap_prints_password_once():
    first = bootstrap()

    match = PASSWORD_LINE.search(first)
    assert match is not None
    admin = User.objects.get()
    assert admin.username == "admin"
    assert admin.is_superuser
    assert admin.check_password(match[1])

    second = bootstrap()
    assert match[1] not in second
    assert "password" not in second


def test_bootstrap_twice_changes_nothing():
    bootstrap()

    second = bootstrap()

    assert second == ""
    assert RiskLevel.objects.count() == 3
    assert RemediationTemplate.objects.count() == 4
    assert Host.objects.count() == 1
    assert User.objects.count() == 1


def test_bootstrap_keeps_admin_edits():
    bootstrap()
    RiskLevel.objects.filter(name="low").update(timeout_seconds=120)
    RemediationTemplate.objects.filter(slug="reboot").update(enabled=False)

    bootstrap()

    assert RiskLevel.objects.get(name="low").timeout_seconds == 120
    assert not RemediationTemplate.objects.get(slug="reboot").enabled


def test_bootstrap_uses_configured_password(settings):
    settings.OPSGUARD_ADMIN_PASSWORD = "configured-test-pass-7"
    settings.OPSGUARD_ADMIN_USER = "operator"

    output = bootstrap()

    assert "configured-test-pass-7" not in output
    assert "OPSGUARD_ADMIN_PASSWORD" in output
    assert User.objects.get(username="operator").check_password(
        "configured-test-pass-7"
    )


def test_bootstrap_keeps_existing_admin():
    User.objects.create_superuser("admin", password="chosen-test-pass-3")

    output = bootstrap()

    assert "password" not in output
    assert User.objects.get().check_password("chosen-test-pass-3")


@pytest.mark.parametrize("name", ["low", "medium", "high"])
def test_seeded_levels_have_permission(name):
    bootstrap()

    assert Permission.objects.filter(codename=f"approve_{name}").exists()


def test_custom_level_gets_permission():
    bootstrap()

    RiskLevel.objects.create(
        name="critical", rank=40, timeout_seconds=7200, on_timeout="deny"
    )

    permission = Permission.objects.get(codename="approve_critical")
    assert permission.content_type.app_label == "approvals"
    assert permission.name == "Can approve critical-risk decisions"
