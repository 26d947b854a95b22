from datetime import UTC, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.models import DecisionStatus, RiskDecision
from automation.models import JobRun, JobState, Verification
from incidents.models import AuditEvent, Finding, HealthSnapshot, Host

from .conftest import MakeDecision

pytestmark = pytest.mark.django_db

DEADLINE_PASSED = "deadline passed; the timeout action applies within a minute"
RELOAD = 'data-reload-seconds="30"'
XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"


def approve_url(decision: RiskDecision) -> str:
    return reverse("dashboard:decision-approve", args=[decision.pk])


def reject_url(decision: RiskDecision) -> str:
    return reverse("dashboard:decision-reject", args=[decision.pk])


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def add_repeats(finding: Finding, count: int) -> None:
    """Store repeats of a finding, as deduplication does on later cycles."""
    for _ in range(count):
        Finding.objects.create(
            host=finding.host,
            kind=finding.kind,
            subject=finding.subject,
            fingerprint=finding.fingerprint,
            summary=finding.summary,
            incident=finding.incident,
            raised=False,
        )


def add_snapshot(host: Host, **fields: object) -> HealthSnapshot:
    values: dict[str, object] = {
        "taken_at": timezone.now(),
        "cpu_busy_pct": 12.5,
        "mem_used_pct": 40.0,
        "max_disk_pct": 91.2,
        "io_pressure_avg60": None,
        "systemd_available": True,
    }
    values.update(fields)
    return HealthSnapshot.objects.create(host=host, **values)


def test_home_pending_has_countdown(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    html = page(client, "/")

    assert decision.deadline is not None
    iso = decision.deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'data-deadline="{iso}"' in html
    assert f"{decision.deadline:%Y-%m-%d %H:%M:%S} UTC" in html
    assert "nginx.service is not running" in html
    assert "approved and run automatically" in html


def test_home_high_risk_timeout_denies(
    client: Client, superuser: User, make_decision: MakeDecision
) -> None:
    make_decision("high")
    client.force_login(superuser)

    assert "denied, nothing runs" in page(client, "/")


def test_home_without_snapshots_explains_wait(
    client: Client, viewer: User, settings: object
) -> None:
    settings.COLLECT_INTERVAL = 45  # type: ignore[attr-defined]
    Host.objects.create(name="db-1")
    client.force_login(viewer)

    assert "the first arrives within 45 seconds" in page(client, "/")


def test_home_shows_latest_snapshot(client: Client, viewer: User) -> None:
    host = Host.objects.create(name="db-1", last_error="ssh: connection refused")
    add_snapshot(host, taken_at=timezone.now() - timedelta(minutes=5), mem_used_pct=1)
    add_snapshot(host, mem_used_pct=77.7)
    client.force_login(viewer)

    html = page(client, "/")

    assert "77.7\u00a0%" in html
    assert "1.0\u00a0%" not in html
    assert "unsupported" in html
    assert "ssh: connection refused" in html


def test_approver_sees_buttons(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("medium")
    client.force_login(approver)

    html = page(client, "/")

    assert approve_url(decision) in html
    assert reject_url(decision) in html


def test_viewer_sees_no_buttons(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(viewer)

    home = page(client, "/")
    detail = page(client, decision.get_absolute_url())

    assert approve_url(decision) not in home
    assert approve_url(decision) not in detail
    assert reject_url(decision) not in detail


def test_approve_by_approver(
    client: Client,
    approver: User,
    make_decision: MakeDecision,
    django_capture_on_commit_callbacks,
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(approve_url(decision))

    decision.refresh_from_db()
    event = AuditEvent.objects.get(decision=decision, action="approved")
    assert response.status_code == 302
    assert response["Location"] == decision.get_absolute_url()
    assert decision.status == DecisionStatus.APPROVED
    assert decision.decided_by == "approver"
    assert decision.decided_via == "dashboard"
    assert event.channel == AuditEvent.Channel.DASHBOARD
    assert event.actor == "approver"
    assert len(callbacks) == 1


def test_approve_twice_says_already(
    client: Client,
    approver: User,
    make_decision: MakeDecision,
    django_capture_on_commit_callbacks,
) -> None:
    decision = make_decision("low")
    client.force_login(approver)
    client.post(approve_url(decision))

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(approve_url(decision), follow=True)

    html = response.content.decode()
    assert f"decision {decision.pk} was already decided (status: approved)" in html
    assert AuditEvent.objects.filter(decision=decision, action="approved").count() == 1
    assert len(callbacks) == 0


def test_reject_by_approver(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    response = client.post(reject_url(decision), follow=True)

    decision.refresh_from_db()
    event = AuditEvent.objects.get(decision=decision, action="rejected")
    assert decision.status == DecisionStatus.REJECTED
    assert event.channel == AuditEvent.Channel.DASHBOARD
    assert f"decision {decision.pk} rejected" in response.content.decode()


def test_approve_after_deadline_explains(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low", deadline_in=timedelta(seconds=-1))
    client.force_login(approver)

    response = client.post(approve_url(decision), follow=True)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PENDING
    assert "deadline of decision" in response.content.decode()


def test_viewer_approve_forbidden(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(viewer)

    response = client.post(approve_url(decision))

    decision.refresh_from_db()
    assert response.status_code == 403
    assert "approvals.approve_low permission" in response.content.decode()
    assert decision.status == DecisionStatus.PENDING
    assert not AuditEvent.objects.filter(decision=decision).exists()


def test_viewer_reject_forbidden(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(viewer)

    assert client.post(reject_url(decision)).status_code == 403


def test_high_risk_needs_approve_high(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("high")
    client.force_login(approver)

    assert approve_url(decision) not in page(client, "/")
    assert client.post(approve_url(decision)).status_code == 403

    approver.user_permissions.add(Permission.objects.get(codename="approve_high"))
    client.force_login(User.objects.get(pk=approver.pk))
    response = client.post(approve_url(decision))

    decision.refresh_from_db()
    assert response.status_code == 302
    assert decision.status == DecisionStatus.APPROVED


def test_superuser_approves_high(
    client: Client, superuser: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("high")
    client.force_login(superuser)

    client.post(approve_url(decision))

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED


def test_manual_decision_not_approvable(
    client: Client, superuser: User, make_decision: MakeDecision
) -> None:
    decision = make_decision(None, status=DecisionStatus.MANUAL)
    client.force_login(superuser)

    assert client.post(approve_url(decision)).status_code == 403


def test_approve_get_not_allowed(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    assert client.get(approve_url(decision)).status_code == 405
    assert client.get(reject_url(decision)).status_code == 405


def test_approve_unknown_decision_404(client: Client, approver: User) -> None:
    client.force_login(approver)

    response = client.post(reverse("dashboard:decision-approve", args=[999999]))

    assert response.status_code == 404


def test_approve_redirects_to_next(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    response = client.post(approve_url(decision), {"next": "/?from=home"})

    assert response["Location"] == "/?from=home"


def test_approve_ignores_offsite_next(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    response = client.post(approve_url(decision), {"next": "https://evil.test/"})

    assert response["Location"] == decision.get_absolute_url()


def test_script_summary_escaped(
    client: Client, superuser: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low", summary=XSS)
    decision.finding.evidence = {"comm": XSS}
    decision.finding.save()
    client.force_login(superuser)

    for url in (
        "/",
        decision.get_absolute_url(),
        decision.incident.get_absolute_url(),
        reverse("dashboard:decisions"),
    ):
        html = page(client, url)
        assert XSS not in html, url
        assert ESCAPED_XSS in html, url


def test_host_report_escaped(client: Client, viewer: User) -> None:
    host = Host.objects.create(name="web-1", last_error=XSS)
    add_snapshot(host, report={"top_cpu": [{"pid": 7, "comm": XSS}], "errors": [XSS]})
    client.force_login(viewer)

    for url in ("/", host.get_absolute_url(), reverse("dashboard:hosts")):
        html = page(client, url)
        assert XSS not in html, url
        assert ESCAPED_XSS in html, url


def test_home_query_count_flat(
    client: Client,
    approver: User,
    make_decision: MakeDecision,
    django_assert_max_num_queries,
) -> None:
    for number in range(20):
        level = ["low", "medium", "high"][number % 3]
        decision = make_decision(level, host_name=f"host-{number}")
        add_snapshot(decision.host)
        JobRun.objects.create(decision=make_decision("low", status="succeeded"))
    client.force_login(approver)

    # Session, user, pending decisions, user and group permissions, open
    # incidents, hosts, latest snapshots: none of them per row.
    with django_assert_max_num_queries(8):
        html = page(client, "/")

    assert html.count('data-deadline="') == 20


def test_decision_page_shows_everything(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)
    client.post(approve_url(decision))
    JobRun.objects.create(
        decision=decision,
        executor="local",
        state=JobState.SUCCESSFUL,
        rc=0,
        log="PLAY RECAP ok=2 changed=1",
        verification=Verification.RESOLVED,
        verification_detail="nginx.service is active",
    )

    html = page(client, decision.get_absolute_url())

    assert "by approver via dashboard" in html
    assert '<pre class="log">PLAY RECAP ok=2 changed=1</pre>' in html
    assert "nginx.service is active" in html
    assert "restart_service" in html
    assert "&quot;active_state&quot;: &quot;failed&quot;" in html
    assert "approved by approver via dashboard" in html


def test_incident_timeline_oldest_first(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    AuditEvent.objects.create(
        incident=decision.incident, actor="detector", channel="system", action="first"
    )
    client.force_login(approver)
    client.post(approve_url(decision))

    html = page(client, decision.incident.get_absolute_url())

    assert html.index("<td>First</td>") < html.index("<td>Approved</td>")
    assert "nginx.service is not running" in html


def test_host_page_shows_report(client: Client, viewer: User) -> None:
    host = Host.objects.create(name="web-1")
    add_snapshot(
        host,
        io_pressure_avg60=3.5,
        report={
            "hostname": "web-1",
            "kernel": "6.1.0",
            "cpu_count": 4,
            "top_cpu": [{"pid": 4242, "comm": "burner", "cpu_pct": 99.0}],
            "top_memory": [{"pid": 17, "comm": "java", "rss_kb": 2097152}],
            "filesystems": [{"target": "/var", "used_pct": 91.2, "size_kb": 1024}],
            "services": [{"name": "nginx.service", "status": "down"}],
            "failed_units": [{"unit": "backup.timer", "description": "Backup"}],
            "errors": ["section meminfo missing"],
        },
    )
    client.force_login(viewer)

    html = page(client, host.get_absolute_url())

    assert "burner" in html
    assert "2.0\u00a0GiB" in html
    assert "<code>/var</code>" in html
    assert "nginx.service" in html
    assert "backup.timer" in html
    assert "section meminfo missing" in html


def test_decision_list_filters_status(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    make_decision("low", host_name="pending-host")
    make_decision("low", host_name="failed-host", status=DecisionStatus.FAILED)
    client.force_login(viewer)

    html = page(client, reverse("dashboard:decisions") + "?status=failed")

    assert "failed-host" in html
    assert "pending-host" not in html


def test_incident_list_filters_status(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    make_decision("low", host_name="open-host")
    resolved = make_decision("low", host_name="resolved-host").incident
    resolved.status = "resolved"
    resolved.save()
    client.force_login(viewer)

    html = page(client, reverse("dashboard:incidents") + "?status=resolved")

    assert "resolved-host" in html
    assert "open-host" not in html


def test_login_page_renders(client: Client) -> None:
    html = page(client, reverse("login"))

    assert 'name="username"' in html
    assert "csrfmiddlewaretoken" in html


def test_nav_logout_is_post_form(client: Client, viewer: User) -> None:
    client.force_login(viewer)

    html = page(client, "/")

    assert f'<form method="post" action="{reverse("logout")}"' in html


def test_home_open_findings_skip_repeats(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    add_repeats(decision.finding, 3)
    client.force_login(viewer)

    response = client.get("/")

    [incident] = response.context["incidents"]
    assert incident.open_findings == 1


def test_incident_list_skips_repeats(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    add_repeats(decision.finding, 3)
    client.force_login(viewer)

    response = client.get(reverse("dashboard:incidents"))

    [incident] = response.context["incidents"]
    assert incident.finding_count == 1


def test_expired_decision_hides_buttons(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low", deadline_in=timedelta(seconds=-1))
    client.force_login(approver)

    for url in ("/", decision.get_absolute_url()):
        html = page(client, url)
        assert approve_url(decision) not in html, url
        assert reject_url(decision) not in html, url
        assert f'<span class="muted deadline-passed">{DEADLINE_PASSED}' in html, url


def test_pending_buttons_carry_deadline(
    client: Client, approver: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(approver)

    html = page(client, decision.get_absolute_url())

    assert decision.deadline is not None
    iso = decision.deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'data-decide-until="{iso}"' in html
    assert f'deadline-passed" hidden>{DEADLINE_PASSED}' in html
    assert approve_url(decision) in html


def test_decided_hides_on_timeout(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low", status=DecisionStatus.APPROVED)
    client.force_login(viewer)

    for url in (decision.get_absolute_url(), reverse("dashboard:decisions")):
        html = page(client, url)
        assert "approved and run automatically" not in html, url
        assert "<dt>On timeout</dt>" not in html, url


def test_pending_detail_shows_on_timeout(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(viewer)

    html = page(client, decision.get_absolute_url())

    assert "<dt>On timeout</dt>" in html
    assert "approved and run automatically" in html


def test_timeline_shows_action_labels(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    incident = make_decision("low").incident
    for action in ("incident_opened", "finding_raised"):
        AuditEvent.objects.create(
            incident=incident, actor="detector", channel="system", action=action
        )
    client.force_login(viewer)

    html = page(client, incident.get_absolute_url())

    assert "<td>Incident opened</td>" in html
    assert "<td>Finding raised</td>" in html
    assert "incident_opened" not in html
    assert '<td><span class="muted">—</span></td>' in html


def test_evidence_collapsed_everywhere(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision(None, status=DecisionStatus.MANUAL)
    client.force_login(viewer)

    for url in (decision.get_absolute_url(), decision.incident.get_absolute_url()):
        html = page(client, url)
        start = html.index('<details class="evidence">')
        evidence = html.index("&quot;active_state&quot;: &quot;failed&quot;")
        end = html.index("</details>", start)
        assert "<summary>Evidence (JSON)</summary>" in html[start:end], url
        assert start < evidence < end, url


def test_reload_only_pending_lists(
    client: Client, viewer: User, make_decision: MakeDecision
) -> None:
    decision = make_decision("low")
    client.force_login(viewer)
    decisions = reverse("dashboard:decisions")

    assert RELOAD in page(client, "/")
    assert RELOAD in page(client, decisions + "?status=pending")
    assert RELOAD not in page(client, decisions)
    assert RELOAD not in page(client, decision.get_absolute_url())
    assert RELOAD not in page(client, decision.incident.get_absolute_url())
