"""Dashboard pages of risk decisions, and the approve and reject buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.generic import DetailView, ListView, TemplateView

from incidents.models import AuditEvent, Host
from incidents.views import (
    collect_interval_context,
    hosts_with_latest_snapshot,
    open_incidents,
)

from . import services
from .models import DecisionStatus, RiskDecision
from .services import Outcome

DECISION_RELATED = ("host", "finding", "template", "risk_level", "incident")


@dataclass(frozen=True)
class DecisionRow:
    decision: RiskDecision
    may_decide: bool


def decision_rows(
    decisions: QuerySet[RiskDecision] | list[RiskDecision],
    user: AbstractUser | AnonymousUser,
) -> list[DecisionRow]:
    # has_perm caches the user's permissions after the first call, so this
    # costs the same queries for 1 or 100 decisions.
    return [DecisionRow(d, services.can_approve(user, d)) for d in decisions]


def pending_decisions() -> QuerySet[RiskDecision]:
    return (
        RiskDecision.objects.filter(status=DecisionStatus.PENDING)
        .select_related(*DECISION_RELATED)
        .order_by("deadline", "pk")
    )


def forbidden_message(decision: RiskDecision) -> str:
    if decision.risk_level is None:
        return (
            f"Decision {decision.pk} needs manual intervention and has no risk "
            "level, so it cannot be approved or rejected."
        )
    codename = decision.risk_level.permission_codename
    return (
        f"You may not decide {decision.risk_level.name}-risk decisions. "
        f"Ask an admin for the approvals.{codename} permission."
    )


class HomeView(TemplateView):
    template_name = "approvals/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            pending=decision_rows(pending_decisions(), self.request.user),
            incidents=open_incidents(),
            host_rows=hosts_with_latest_snapshot(Host.objects.all()),
            **collect_interval_context(),
        )
        return context


class DecisionListView(ListView):
    template_name = "approvals/decision_list.html"
    context_object_name = "decisions"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[RiskDecision]:
        decisions = RiskDecision.objects.select_related(*DECISION_RELATED)
        status = self.status_filter()
        if status:
            decisions = decisions.filter(status=status)
        return decisions

    def status_filter(self) -> str:
        """Return the requested status, or "" when it is missing or invalid."""
        status = self.request.GET.get("status", "")
        return status if status in DecisionStatus.values else ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = context["page_obj"].object_list
        context["rows"] = decision_rows(page, self.request.user)
        context["statuses"] = DecisionStatus.choices
        context["current_status"] = self.status_filter()
        return context


class DecisionDetailView(DetailView):
    template_name = "approvals/decision_detail.html"
    context_object_name = "decision"

    def get_queryset(self) -> QuerySet[RiskDecision]:
        return RiskDecision.objects.select_related(*DECISION_RELATED, "job_run")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        decision = self.object
        context.update(
            may_decide=services.can_approve(self.request.user, decision),
            job_run=getattr(decision, "job_run", None),
            events=AuditEvent.objects.filter(decision=decision).order_by(
                "created_at", "id"
            ),
        )
        return context


def _decide(
    request: HttpRequest,
    pk: int,
    action: Callable[[int, AbstractUser, str], Outcome],
) -> HttpResponseRedirect:
    decision = get_object_or_404(
        RiskDecision.objects.select_related("risk_level"), pk=pk
    )
    user = request.user
    if not isinstance(user, AbstractUser):
        raise PermissionDenied("Log in to decide.")
    if not services.can_approve(user, decision):
        raise PermissionDenied(forbidden_message(decision))

    outcome = action(decision.pk, user, AuditEvent.Channel.DASHBOARD)
    text = outcome.message
    if outcome.changed:
        messages.success(request, text)
    else:
        messages.warning(request, text)
    return HttpResponseRedirect(_back_url(request, decision))


def _back_url(request: HttpRequest, decision: RiskDecision) -> str:
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    )
    return target if target and safe else decision.get_absolute_url()


@require_POST
def approve_decision(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    return _decide(request, pk, services.approve)


@require_POST
def reject_decision(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    return _decide(request, pk, services.reject)
