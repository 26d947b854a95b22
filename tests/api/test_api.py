from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals.models import DecisionStatus, RiskDecision
from automation.models import JobRun
from incidents.models import AuditEvent, FindingKind, HealthSnapshot, Host

from ..dashboard.conftest import MakeDecision

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = [
    "/api/hosts/",
    "/api/snapshots/",
    "/api/findings/",
    "/api/incidents/",
    "/api/decisions/",
    "/api/job-runs/",
]


def token_client(user: User) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def approve_url(decision: RiskDecision) -> str:
    return f"/api/decisions/{decision.pk}/approve/"


def reject_url(decision: RiskDecision) -> str:
    return f"/api/decisions/{decision.pk}/reject/"


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_token_auth_lists(url: str, viewer: User) -> None:
    response = token_client(viewer).get(url)

    assert response.status_code == 200
    assert "results" in response.json()


@pytest.mark.parametrize("url", [*LIST_ENDPOINTS, "/api/", "/api/schema/"])
def test_anonymous_rejected(url: str) -> None:
    response = APIClient().get(url)

    assert response.status_code in (401, 403)


def test_bad_token_rejected(viewer: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/decisions/")

    # DRF returns 403, not 401, because SessionAuthentication comes first in
    # DEFAULT_AUTHENTICATION_CLASSES and sends no WWW-Authenticate header.
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Invalid token."


def test_decision_list_fields(viewer: User, make_decision: MakeDecision) -> None:
    decision = make_decision("medium")

    row = token_client(viewer).get("/api/decisions/").json()["results"][0]

    assert row["id"] == decision.pk
    assert row["risk_level"] == "medium"
    assert row["template"] == "kill_process"
    assert row["host_name"] == "web-1"
    assert row["status"] == "pending"
    assert row["job_run"] is None


def test_approve_then_409(
    approver: User, make_decision: MakeDecision, django_capture_on_commit_callbacks
) -> None:
    decision = make_decision("low")
    client = token_client(approver)

    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(approve_url(decision))
    second = client.post(approve_url(decision))

    event = AuditEvent.objects.get(decision=decision, action="approved")
    assert first.status_code == 200
    assert first.json()["status"] == "approved"
    assert first.json()["decided_via"] == "api"
    assert first.json()["decided_by"] == "approver"
    assert event.channel == AuditEvent.Channel.API
    assert len(callbacks) == 1
    assert second.status_code == 409
    assert second.json() == {
        "detail": f"decision {decision.pk} was already decided (status: approved)",
        "status": "approved",
    }


def test_reject_then_approve_409(approver: User, make_decision: MakeDecision) -> None:
    decision = make_decision("low")
    client = token_client(approver)

    rejected = client.post(reject_url(decision))
    approved = client.post(approve_url(decision))

    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert approved.status_code == 409
    assert approved.json()["status"] == "rejected"


def test_approve_after_deadline_409(
    approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low", deadline_in=timedelta(seconds=-1))

    response = token_client(approver).post(approve_url(decision))

    assert response.status_code == 409
    assert response.json()["status"] == "pending"
    assert "deadline" in response.json()["detail"]


def test_viewer_approve_403(viewer: User, make_decision: MakeDecision) -> None:
    decision = make_decision("low")

    response = token_client(viewer).post(approve_url(decision))

    decision.refresh_from_db()
    assert response.status_code == 403
    assert "approvals.approve_low" in response.json()["detail"]
    assert decision.status == DecisionStatus.PENDING


def test_high_risk_needs_permission(
    approver: User, superuser: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("high")

    denied = token_client(approver).post(reject_url(decision))
    allowed = token_client(superuser).post(reject_url(decision))

    assert denied.status_code == 403
    assert allowed.status_code == 200


def test_approve_unknown_404(approver: User) -> None:
    response = token_client(approver).post("/api/decisions/999999/approve/")

    assert response.status_code == 404


def test_approve_get_405(approver: User, make_decision: MakeDecision) -> None:
    decision = make_decision("low")

    assert token_client(approver).get(approve_url(decision)).status_code == 405


def test_decisions_are_read_only(superuser: User, make_decision: MakeDecision) -> None:
    decision = make_decision("low")
    client = token_client(superuser)

    response = client.patch(f"/api/decisions/{decision.pk}/", {"status": "approved"})

    decision.refresh_from_db()
    assert response.status_code == 405
    assert decision.status == DecisionStatus.PENDING


def test_schema_is_openapi3(viewer: User) -> None:
    response = token_client(viewer).get("/api/schema/", {"format": "json"})

    schema = response.json()
    assert response.status_code == 200
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/hosts/",
        "/api/snapshots/",
        "/api/findings/",
        "/api/incidents/",
        "/api/decisions/",
        "/api/decisions/{id}/approve/",
        "/api/decisions/{id}/reject/",
        "/api/job-runs/",
    ]:
        assert path in schema["paths"], path
    approve = schema["paths"]["/api/decisions/{id}/approve/"]["post"]
    assert "409" in approve["responses"]


def test_filter_decisions(viewer: User, make_decision: MakeDecision) -> None:
    low = make_decision("low", host_name="a")
    high = make_decision("high", host_name="b")
    done = make_decision("low", host_name="b", status=DecisionStatus.SUCCEEDED)
    client = token_client(viewer)

    assert ids(client.get("/api/decisions/", {"risk_level": "high"})) == {high.pk}
    assert ids(client.get("/api/decisions/", {"status": "pending"})) == {
        low.pk,
        high.pk,
    }
    assert ids(client.get("/api/decisions/", {"host": low.host_id})) == {low.pk}
    assert ids(client.get("/api/decisions/", {"host_name": "b"})) == {
        high.pk,
        done.pk,
    }


def test_filter_findings(viewer: User, make_decision: MakeDecision) -> None:
    first = make_decision("low", host_name="a").finding
    second = make_decision("low", host_name="b").finding
    second.kind = FindingKind.DISK_FULL
    second.raised = False
    second.status = "resolved"
    second.save()
    client = token_client(viewer)

    assert ids(client.get("/api/findings/", {"host": first.host_id})) == {first.pk}
    assert ids(client.get("/api/findings/", {"kind": "disk_full"})) == {second.pk}
    assert ids(client.get("/api/findings/", {"status": "open"})) == {first.pk}
    assert ids(client.get("/api/findings/", {"raised": "false"})) == {second.pk}


def test_filter_incidents(viewer: User, make_decision: MakeDecision) -> None:
    open_incident = make_decision("low", host_name="a").incident
    resolved = make_decision("low", host_name="b").incident
    resolved.status = "resolved"
    resolved.save()
    client = token_client(viewer)

    assert ids(client.get("/api/incidents/", {"status": "resolved"})) == {resolved.pk}
    assert ids(client.get("/api/incidents/", {"host": open_incident.host_id})) == {
        open_incident.pk
    }


def test_filter_snapshots_by_host(viewer: User) -> None:
    hosts = [Host.objects.create(name=name) for name in ("a", "b")]
    snapshots = [
        HealthSnapshot.objects.create(host=host, taken_at=timezone.now())
        for host in hosts
    ]
    client = token_client(viewer)

    assert ids(client.get("/api/snapshots/", {"host": hosts[0].pk})) == {
        snapshots[0].pk
    }


def test_invalid_filter_400(viewer: User) -> None:
    response = token_client(viewer).get("/api/findings/", {"kind": "no_such_kind"})

    assert response.status_code == 400


def test_job_runs_list(viewer: User, make_decision: MakeDecision) -> None:
    decision = make_decision("low", status=DecisionStatus.SUCCEEDED)
    job = JobRun.objects.create(decision=decision, executor="local", log="ok")
    client = token_client(viewer)

    assert ids(client.get("/api/job-runs/")) == {job.pk}
    detail = client.get(f"/api/decisions/{decision.pk}/").json()
    assert detail["job_run"] == job.pk


def test_viewer_cannot_create_host(viewer: User) -> None:
    response = token_client(viewer).post("/api/hosts/", {"name": "web-2"})

    assert response.status_code == 403
    assert not Host.objects.filter(name="web-2").exists()


def test_staff_creates_host(superuser: User) -> None:
    response = token_client(superuser).post(
        "/api/hosts/",
        {"name": "web-2", "collector": "local", "critical_services": ["sshd"]},
        format="json",
    )

    assert response.status_code == 201
    assert Host.objects.get(name="web-2").critical_services == ["sshd"]


def test_host_services_must_be_list(superuser: User) -> None:
    response = token_client(superuser).post(
        "/api/hosts/",
        {"name": "web-2", "critical_services": "sshd"},
        format="json",
    )

    assert response.status_code == 400
    assert "critical_services" in response.json()


def test_staff_updates_host(superuser: User) -> None:
    host = Host.objects.create(name="web-3")

    response = token_client(superuser).patch(
        f"/api/hosts/{host.pk}/", {"enabled": False}, format="json"
    )

    host.refresh_from_db()
    assert response.status_code == 200, response.json()
    assert host.enabled is False
