"""/api/v1/ routes of the reviews app (mounted by sentinel/urls.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from reviews.api import views

router = SimpleRouter()
router.register("runs", views.ReviewRunViewSet, basename="review-run")
router.register("findings", views.FindingViewSet, basename="finding")

urlpatterns = [path("workspaces/<slug:workspace_slug>/", include(router.urls))]
