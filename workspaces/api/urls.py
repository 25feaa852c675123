"""/api/v1/ routes of the workspaces app (mounted by sentinel/urls.py).

Tenant routes hang under `workspaces/<slug:workspace_slug>/`; other apps mount theirs the same
way in their own `api/urls.py` (docs/api.md).
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from workspaces.api import views

router = SimpleRouter()
router.register("members", views.MembershipViewSet, basename="workspace-member")
router.register("teams", views.TeamViewSet, basename="workspace-team")
router.register("invitations", views.InvitationViewSet, basename="workspace-invitation")
router.register("tokens", views.ApiTokenViewSet, basename="workspace-token")

urlpatterns = [
    path("workspaces/", views.WorkspaceListCreateView.as_view(), name="workspace-list"),
    path("workspaces/<slug:workspace_slug>/", views.WorkspaceDetailView.as_view(), name="workspace-detail"),
    path("workspaces/<slug:workspace_slug>/", include(router.urls)),
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
]
