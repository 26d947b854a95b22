from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from .api import views

router = DefaultRouter()
router.register("hosts", views.HostViewSet)
router.register("snapshots", views.HealthSnapshotViewSet, basename="snapshot")
router.register("findings", views.FindingViewSet)
router.register("incidents", views.IncidentViewSet)
router.register("decisions", views.RiskDecisionViewSet, basename="decision")
router.register("job-runs", views.JobRunViewSet, basename="job-run")

# No Swagger UI or Redoc: both load their JavaScript from a CDN, and OpsGuard
# pages load nothing from outside the server.
urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

# LoginRequiredMiddleware runs before DRF and would redirect a request that
# carries only an API token to the login page. DRF authenticates these views
# itself and returns 401 or 403, so the middleware must let them through.
for pattern in urlpatterns:
    if isinstance(pattern, URLPattern):
        login_not_required(pattern.callback)
