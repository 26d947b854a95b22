from django.urls import path

from approvals import views as approval_views
from incidents import views as incident_views

app_name = "dashboard"

urlpatterns = [
    path("", approval_views.HomeView.as_view(), name="home"),
    path("decisions/", approval_views.DecisionListView.as_view(), name="decisions"),
    path(
        "decisions/<int:pk>/",
        approval_views.DecisionDetailView.as_view(),
        name="decision",
    ),
    path(
        "decisions/<int:pk>/approve/",
        approval_views.approve_decision,
        name="decision-approve",
    ),
    path(
        "decisions/<int:pk>/reject/",
        approval_views.reject_decision,
        name="decision-reject",
    ),
    path("incidents/", incident_views.IncidentListView.as_view(), name="incidents"),
    path(
        "incidents/<int:pk>/",
        incident_views.IncidentDetailView.as_view(),
        name="incident",
    ),
    path("hosts/", incident_views.HostListView.as_view(), name="hosts"),
    path("hosts/<int:pk>/", incident_views.HostDetailView.as_view(), name="host"),
]
