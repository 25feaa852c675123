"""Workspace, member, team, invitation and token endpoints. Thin: validate, call a service, shape."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import filters, generics, mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from workspaces import services
from workspaces.api import serializers as s
from workspaces.api.base import WorkspaceScopedGenericViewSet, WorkspaceScopedMixin
from workspaces.api.permissions import SessionOnlyPermission
from workspaces.models import ApiToken, Invitation, Membership, Role, Team, Workspace


def _roles_for(user: Any) -> dict[int, str]:
    return dict(Membership.objects.filter(user=user).values_list("workspace_id", "role"))


class WorkspaceListCreateView(generics.ListCreateAPIView):
    """The requesting user's workspaces; create a workspace (you become its owner)."""

    serializer_class = s.WorkspaceSerializer
    ordering_fields = ["slug", "name", "created_at"]
    filterset_fields = ["slug"]

    def get_queryset(self) -> QuerySet[Workspace]:
        queryset = Workspace.objects.for_member(self.request.user)
        token = getattr(self.request, "auth", None)
        if isinstance(token, ApiToken):  # a token sees only its own workspace
            queryset = queryset.filter(pk=token.workspace_id)
        return queryset

    def get_permissions(self) -> list[Any]:
        permissions = super().get_permissions()
        if self.request.method == "POST":
            permissions.append(SessionOnlyPermission())
        return permissions

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if self.request.user.is_authenticated:
            context["roles"] = _roles_for(self.request.user)
        return context

    @extend_schema(request=s.WorkspaceCreateSerializer, responses={201: s.WorkspaceSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.WorkspaceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_create(owner=request.user, **data.validated_data)
        out = s.WorkspaceSerializer(workspace, context={"roles": {workspace.pk: Role.OWNER}})
        return Response(out.data, status=status.HTTP_201_CREATED)


class WorkspaceDetailView(WorkspaceScopedMixin, generics.RetrieveUpdateAPIView):
    """One workspace and its settings. Owners and admins may change name and default review settings."""

    serializer_class = s.WorkspaceSerializer
    queryset = Workspace.objects.all()
    write_role = Role.ADMIN

    def get_object(self) -> Workspace:
        return self.workspace

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "membership"):
            context["roles"] = {self.workspace.pk: self.membership.role}
        return context

    @extend_schema(request=s.WorkspaceUpdateSerializer, responses=s.WorkspaceSerializer)
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(request)

    @extend_schema(request=s.WorkspaceUpdateSerializer, responses=s.WorkspaceSerializer)
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(request)

    def _update(self, request: Request) -> Response:
        data = s.WorkspaceUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_update(workspace=self.workspace, actor=self.membership, **data.validated_data)
        return Response(self.get_serializer(workspace).data)


class MembershipViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceScopedGenericViewSet
):
    """Members of the workspace. Admins add members and change roles; only owners manage owners;
    anyone may leave (DELETE their own membership) except the last owner."""

    queryset = Membership.objects.select_related("user").prefetch_related("teams")
    serializer_class = s.MembershipSerializer
    filterset_fields = ["role", "teams"]
    ordering_fields = ["created_at", "role"]
    search_fields = ["user__email", "user__username"]
    filter_backends = [*WorkspaceScopedGenericViewSet.filter_backends, filters.SearchFilter]
    # The role rules live in policies.py; the permission class only keeps viewers out of writes.
    action_roles = {"create": Role.ADMIN, "partial_update": Role.ADMIN, "destroy": Role.VIEWER}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(request=s.MembershipCreateSerializer, responses={201: s.MembershipSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.MembershipCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        membership = services.member_add(
            workspace=self.workspace, actor=self.membership, user=data.validated_data["email"],
            role=data.validated_data["role"], teams=data.validated_data.get("teams", []),
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MembershipUpdateSerializer, responses=s.MembershipSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        data = s.MembershipUpdateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        membership = services.member_update(
            membership=membership, actor=self.membership, role=data.validated_data.get("role"),
            teams=data.validated_data.get("teams"),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=membership.pk)).data)

    def perform_destroy(self, instance: Membership) -> None:
        services.member_remove(membership=instance, actor=self.membership)


class TeamViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, WorkspaceScopedGenericViewSet,
):
    """Teams inside the workspace. Everyone reads; admins and owners create, rename and delete."""

    queryset = Team.objects.annotate(member_count=Count("memberships")).order_by("name", "id")
    serializer_class = s.TeamSerializer
    write_role = Role.ADMIN
    ordering_fields = ["name", "created_at"]
    search_fields = ["name"]
    filter_backends = [*WorkspaceScopedGenericViewSet.filter_backends, filters.SearchFilter]

    def perform_create(self, serializer: s.TeamSerializer) -> None:
        serializer.instance = services.team_create(workspace=self.workspace, **serializer.validated_data)
        serializer.instance.member_count = 0

    def perform_update(self, serializer: s.TeamSerializer) -> None:
        team = services.team_update(team=serializer.instance, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=team.pk)

    def perform_destroy(self, instance: Team) -> None:
        services.team_delete(team=instance)


class InvitationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceScopedGenericViewSet
):
    """Invitations (admins and owners). Creating one returns its token once; DELETE revokes it."""

    queryset = Invitation.objects.all()
    serializer_class = s.InvitationSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filterset_fields = ["role", "email"]
    ordering_fields = ["created_at", "expires_at"]

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = services.invitation_create(
            workspace=self.workspace, actor=self.membership, **data.validated_data
        )
        invitation.token = token
        return Response(s.InvitationCreatedSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Invitation) -> None:
        services.invitation_revoke(invitation=instance, actor=self.membership)


class InvitationAcceptView(generics.GenericAPIView):
    """Accept an invitation as the signed-in user whose email it was sent to."""

    serializer_class = s.InvitationAcceptSerializer
    permission_classes = [*generics.GenericAPIView.permission_classes, SessionOnlyPermission]

    @extend_schema(request=s.InvitationAcceptSerializer, responses={200: s.MembershipSerializer})
    def post(self, request: Request) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(token=data.validated_data["token"], user=request.user)
        return Response(s.MembershipSerializer(membership).data)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceScopedGenericViewSet
):
    """Personal API tokens in this workspace. Members see and manage their own; admins and owners
    see and revoke everyone's. Creating returns the secret once; DELETE revokes. Tokens cannot mint
    tokens: creation needs a signed-in session."""

    queryset = ApiToken.objects.select_related("user")
    serializer_class = s.ApiTokenSerializer
    write_role = Role.VIEWER  # a token never exceeds its user's role, so viewers may hold read tokens
    filterset_fields = ["user"]
    ordering_fields = ["created_at", "last_used_at", "expires_at"]

    def get_queryset(self) -> QuerySet[ApiToken]:
        queryset = super().get_queryset()
        membership = getattr(self, "membership", None)
        if membership is not None and not membership.has_role(Role.ADMIN):
            queryset = queryset.filter(user=self.request.user)
        return queryset

    def get_permissions(self) -> list[Any]:
        permissions = super().get_permissions()
        if self.action == "create":
            permissions.append(SessionOnlyPermission())
        return permissions

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, plaintext = services.api_token_create(
            workspace=self.workspace, user=request.user, **data.validated_data
        )
        token.token = plaintext
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.api_token_revoke(token=instance)
