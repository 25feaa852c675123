"""The base every tenant-scoped endpoint stands on. See docs/api.md for a worked example.

Routes live under `/api/v1/workspaces/<slug:workspace_slug>/...`. For every request the view:

1. authenticates (Bearer token or session) — 401 otherwise;
2. resolves the workspace from `workspace_slug` **for the requesting user**: a workspace that
   does not exist, of which the user is not a member, or that is not the API token's workspace,
   answers 404 — never 403, so existence is not revealed;
3. checks the member's role (`WorkspaceRolePermission`) and the token's scope;
4. scopes `get_queryset()` with `for_workspace(self.workspace)` — a model whose queryset lacks
   the method makes the view fail loudly (TypeError) instead of leaking rows; objects of other
   workspaces therefore answer 404 from `get_object()`;
5. `perform_create` saves with `workspace=self.workspace`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import Http404
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from workspaces.api.permissions import WorkspaceRolePermission
from workspaces.models import ApiToken, Membership, Role, Workspace
from workspaces.tenancy import scope_to_workspace


def resolve_membership(request: Request, workspace_slug: str) -> Membership:
    """The requesting user's membership in the workspace `workspace_slug`, or Http404."""
    user = request.user
    if not user or not user.is_authenticated:
        raise Http404
    queryset = Membership.objects.select_related("workspace", "user").filter(
        user=user, workspace__slug=workspace_slug
    )
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        queryset = queryset.filter(workspace_id=token.workspace_id)
    membership = queryset.first()
    if membership is None:
        raise Http404
    return membership


class WorkspaceScopedMixin:
    """Mix into any DRF APIView/GenericAPIView/ViewSet routed with a `workspace_slug` kwarg."""

    workspace_url_kwarg = "workspace_slug"
    read_role: str = Role.VIEWER
    write_role: str = Role.MEMBER
    action_roles: dict[str, str] = {}

    workspace: Workspace
    membership: Membership

    def get_permissions(self) -> list[Any]:
        permissions = super().get_permissions()  # type: ignore[misc]  # mixin
        return [*permissions, WorkspaceRolePermission()]

    def check_permissions(self, request: Request) -> None:
        # Runs after authentication and before every permission class: resolve the tenant first.
        if request.user and request.user.is_authenticated:
            self.membership = resolve_membership(request, self.kwargs[self.workspace_url_kwarg])  # type: ignore[attr-defined]
            self.workspace = self.membership.workspace
        super().check_permissions(request)  # type: ignore[misc]

    def required_role(self, request: Request) -> str:
        action = getattr(self, "action", None)
        if action and action in self.action_roles:
            return self.action_roles[action]
        return self.read_role if request.method in SAFE_METHODS else self.write_role

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()  # type: ignore[misc]
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return queryset.none()
        return scope_to_workspace(queryset, self.workspace)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        context["workspace"] = getattr(self, "workspace", None)
        context["membership"] = getattr(self, "membership", None)
        return context

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(workspace=self.workspace)


class WorkspaceScopedViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Full CRUD on a tenant model. Register with a router under `workspaces/<slug:workspace_slug>/`."""


class WorkspaceScopedReadOnlyViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """List + retrieve on a tenant model."""


class WorkspaceScopedGenericViewSet(WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Compose your own actions from DRF's mixins (`mixins.ListModelMixin`, ...)."""


class WorkspaceScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related-object field whose choices are limited to the request's workspace.

    Use it for every FK/M2M input on a tenant serializer, so an id from another workspace is
    "does not exist" (400), never silently linked: `teams = WorkspaceScopedPrimaryKeyRelatedField(
    queryset=Team.objects.all(), many=True)`.
    """

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()
        workspace = self.context.get("workspace")
        if workspace is None:
            return queryset.none()
        return scope_to_workspace(queryset, workspace)


__all__ = [
    "WorkspaceScopedGenericViewSet",
    "WorkspaceScopedMixin",
    "WorkspaceScopedPrimaryKeyRelatedField",
    "WorkspaceScopedReadOnlyViewSet",
    "WorkspaceScopedViewSet",
    "mixins",
    "resolve_membership",
]
