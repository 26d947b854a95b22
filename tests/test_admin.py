"""The admin shows history and decisions but cannot add, change or delete them."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from approvals.models import DecisionStatus, Notification, RiskDecision, RiskLevel
from automation.models import JobRun
from incidents.models import AuditEvent, Host
from tests.factories import make_decision

pytestmark = pytest.mark.django_db

READ_ONLY_MODELS = [
    "approvals_riskdecision",
    "approvals_notification",
    "incidents_auditevent",
    "automation_jobrun",
]


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", password="not-a-secret"))
    return client


@pytest.fixture
def decision(register: dict[str, RiskLevel], local_host: Host) -> RiskDecision:
    return make_decision(local_host)


def change_url(decision: RiskDecision) -> str:
    return reverse("admin:approvals_riskdecision_change", args=[decision.pk])


def test_decision_change_post_forbidden(
    admin_client: Client, decision: RiskDecision, register: dict[str, RiskLevel]
) -> None:
    form = {
        "finding": decision.finding_id,
        "incident": decision.incident_id,
        "host": decision.host_id,
        "template": decision.template_id,
        "parameters": '{"pid": 1, "start_ticks": 1, "comm": "systemd"}',
        "risk_level": register["low"].pk,
        "status": DecisionStatus.APPROVED,
        "engine": "rules",
        "_save": "Save",
    }

    response = admin_client.post(change_url(decision), form)

    decision.refresh_from_db()
    assert response.status_code == 403
    assert decision.risk_level == register["medium"]
    assert decision.parameters["comm"] == "burner"
    assert decision.status == DecisionStatus.PENDING


def test_decision_change_page_view_only(
    admin_client: Client, decision: RiskDecision
) -> None:
    response = admin_client.get(change_url(decision))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html
    assert 'name="parameters"' not in html
    assert "burner" in html


@pytest.mark.parametrize("model", READ_ONLY_MODELS)
def test_add_page_forbidden(admin_client: Client, model: str) -> None:
    response = admin_client.get(reverse(f"admin:{model}_add"))

    assert response.status_code == 403


def test_decision_delete_forbidden(
    admin_client: Client, decision: RiskDecision
) -> None:
    url = reverse("admin:approvals_riskdecision_delete", args=[decision.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert RiskDecision.objects.filter(pk=decision.pk).exists()


def test_bulk_delete_not_offered(admin_client: Client, decision: RiskDecision) -> None:
    url = reverse("admin:approvals_riskdecision_changelist")

    response = admin_client.post(
        url,
        {"action": "delete_selected", "_selected_action": [decision.pk], "post": "yes"},
    )

    assert 'value="delete_selected"' not in admin_client.get(url).content.decode()
    assert response.status_code in (200, 302)
    assert RiskDecision.objects.filter(pk=decision.pk).exists()


def test_audit_event_change_forbidden(
    admin_client: Client, decision: RiskDecision
) -> None:
    event = AuditEvent.objects.filter(decision=decision).first()
    assert event is not None
    url = reverse("admin:incidents_auditevent_change", args=[event.pk])

    response = admin_client.post(url, {"action": "approved", "message": "edited"})

    event.refresh_from_db()
    assert response.status_code == 403
    assert event.action == "proposed"


def test_job_run_delete_forbidden(admin_client: Client, decision: RiskDecision) -> None:
    job = JobRun.objects.create(decision=decision)
    url = reverse("admin:automation_jobrun_delete", args=[job.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert JobRun.objects.filter(pk=job.pk).exists()


def test_notification_change_forbidden(admin_client: Client) -> None:
    notification = Notification.objects.create(kind=Notification.Kind.RESULT)
    url = reverse("admin:approvals_notification_change", args=[notification.pk])

    response = admin_client.post(url, {"status": "sent"})

    notification.refresh_from_db()
    assert response.status_code == 403
    assert notification.status == Notification.Status.PENDING


def test_risk_level_still_editable(
    admin_client: Client, register: dict[str, RiskLevel]
) -> None:
    url = reverse("admin:approvals_risklevel_change", args=[register["low"].pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    assert 'name="_save"' in response.content.decode()


@pytest.mark.parametrize("model", ["healthsnapshot", "incident", "finding"])
def test_observations_cannot_be_added(client, model):
    from django.contrib.auth.models import User

    User.objects.create_superuser("observer", password="x")
    client.login(username="observer", password="x")

    response = client.get(f"/admin/incidents/{model}/add/")

    assert response.status_code == 403


@pytest.mark.parametrize("seconds", [0, 30, 10**9])
def test_risk_timeout_out_of_bounds(register, seconds):
    from django.core.exceptions import ValidationError

    level = RiskLevel.objects.get(name="low")
    level.timeout_seconds = seconds

    with pytest.raises(ValidationError):
        level.full_clean()
