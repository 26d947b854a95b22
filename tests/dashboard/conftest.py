"""Users in clear roles and a builder of risk decisions for the dashboard and
API tests."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from approvals.models import DecisionStatus, RiskDecision, RiskLevel
from automation.models import RemediationTemplate
from automation.seed import seed_register_and_catalog
from incidents.models import Finding, FindingKind, Host, Incident

# The seeded template of each seeded risk level.
TEMPLATE_OF_LEVEL = {
    "low": "restart_service",
    "medium": "kill_process",
    "high": "reboot",
}

MakeDecision = Callable[..., RiskDecision]


@pytest.fixture
def risk_levels(db: None) -> dict[str, RiskLevel]:
    seed_register_and_catalog()
    return {level.name: level for level in RiskLevel.objects.all()}


def _user_with(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="not-a-secret-1")
    permissions = Permission.objects.filter(
        content_type__app_label="approvals", codename__in=codenames
    )
    assert permissions.count() == len(codenames), f"missing one of {codenames}"
    user.user_permissions.add(*permissions)
    return user


@pytest.fixture
def approver(risk_levels: dict[str, RiskLevel]) -> User:
    """A user who may decide low and medium risk, but not high."""
    return _user_with("approver", "approve_low", "approve_medium")


@pytest.fixture
def viewer(risk_levels: dict[str, RiskLevel]) -> User:
    """A user with no permission at all."""
    return _user_with("viewer")


@pytest.fixture
def superuser(risk_levels: dict[str, RiskLevel]) -> User:
    return User.objects.create_superuser("root", password="not-a-secret-2")


@pytest.fixture
def make_decision(risk_levels: dict[str, RiskLevel]) -> MakeDecision:
    """Return a builder of one decision with its host, incident and finding."""

    def build(
        level: str | None = "low",
        *,
        host_name: str = "web-1",
        summary: str = "nginx.service is not running",
        status: str = DecisionStatus.PENDING,
        deadline_in: timedelta = timedelta(minutes=10),
        **fields: Any,
    ) -> RiskDecision:
        host, _ = Host.objects.get_or_create(name=host_name)
        incident = Incident.objects.create(host=host, title=f"Problems on {host}")
        finding = Finding.objects.create(
            host=host,
            kind=FindingKind.SERVICE_DOWN,
            subject="nginx.service",
            fingerprint=f"{host.pk}-{incident.pk}",
            summary=summary,
            evidence={"service": "nginx.service", "active_state": "failed"},
            incident=incident,
        )
        template = (
            RemediationTemplate.objects.get(slug=TEMPLATE_OF_LEVEL[level])
            if level
            else None
        )
        return RiskDecision.objects.create(
            finding=finding,
            incident=incident,
            host=host,
            template=template,
            parameters={"service": "nginx.service"},
            risk_level=risk_levels[level] if level else None,
            status=status,
            deadline=timezone.now() + deadline_in,
            **fields,
        )

    return build
