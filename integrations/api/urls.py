"""/api/v1/ routes of the integrations app (mounted by sentinel/urls.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from integrations.api import ai_keys, views

router = SimpleRouter()
router.register("installations", views.InstallationViewSet, basename="installation")
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("command-runs", views.CommandRunViewSet, basename="command-run")
# AI provider keys (BYOK): /api/v1/workspaces/{slug}/ai/keys/
router.register("ai/keys", ai_keys.ProviderKeyViewSet, basename="ai-provider-key")

urlpatterns: list = [
    path("workspaces/<slug:workspace_slug>/", include(router.urls)),
]
