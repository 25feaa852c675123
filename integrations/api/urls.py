"""/api/v1/ routes of the integrations app (mounted by sentinel/urls.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from integrations.api import views

router = SimpleRouter()
router.register("installations", views.InstallationViewSet, basename="installation")
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("command-runs", views.CommandRunViewSet, basename="command-run")

urlpatterns: list = [
    path("workspaces/<slug:workspace_slug>/", include(router.urls)),
]
