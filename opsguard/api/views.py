"""REST API viewsets."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import services
from approvals.models import RiskDecision
from approvals.services import Outcome
from approvals.views import forbidden_message
from automation.models import JobRun
from incidents.models import AuditEvent, Finding, HealthSnapshot, Host, Incident

from . import filters, serializers


class IsStaffOrReadOnly(permissions.BasePermission):
    """Any authenticated user may read, but only staff may write."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(user.is_staff)


class HostViewSet(viewsets.ModelViewSet):
    # No DELETE: a host's incidents and audit trail outlive it. Disable a
    # host to stop probing it.
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    queryset = Host.objects.all()
    serializer_class = serializers.HostSerializer
    filterset_class = filters.HostFilterSet
    permission_classes = [IsStaffOrReadOnly]


class HealthSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = HealthSnapshot.objects.select_related("host")
    serializer_class = serializers.HealthSnapshotSerializer
    filterset_class = filters.HealthSnapshotFilterSet


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Finding.objects.select_related("host")
    serializer_class = serializers.FindingSerializer
    filterset_class = filters.FindingFilterSet


class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Incident.objects.select_related("host")
    serializer_class = serializers.IncidentSerializer
    filterset_class = filters.IncidentFilterSet


class JobRunViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = JobRun.objects.all()
    serializer_class = serializers.JobRunSerializer
    filterset_class = filters.JobRunFilterSet


DECIDE_RESPONSES = {
    200: serializers.RiskDecisionSerializer,
    403: OpenApiResponse(description="The user lacks approvals.approve_<level>."),
    404: OpenApiResponse(description="No decision has this id."),
    409: serializers.DecisionConflictSerializer,
}


class RiskDecisionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = RiskDecision.objects.select_related(
        "host", "finding", "template", "risk_level", "job_run"
    )
    serializer_class = serializers.RiskDecisionSerializer
    filterset_class = filters.RiskDecisionFilterSet

    @extend_schema(request=None, responses=DECIDE_RESPONSES)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a pending decision before its deadline, which launches its fix."""
        return self._decide(request, services.approve)

    @extend_schema(request=None, responses=DECIDE_RESPONSES)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject a pending decision before its deadline, so nothing runs."""
        return self._decide(request, services.reject)

    def _decide(
        self,
        request: Request,
        decide: Callable[[int, AbstractUser, str], Outcome],
    ) -> Response:
        decision = self.get_object()
        user = request.user
        if not isinstance(user, AbstractUser):
            raise PermissionDenied("Authenticate to decide.")
        if not services.can_approve(user, decision):
            raise PermissionDenied(forbidden_message(decision))

        outcome = decide(decision.pk, user, AuditEvent.Channel.API)
        if not outcome.changed:
            body = {
                "detail": outcome.message,
                "status": outcome.status,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)

        decision = self.get_queryset().get(pk=decision.pk)
        return Response(self.get_serializer(decision).data)
