"""Integrations API under /api/v1/workspaces/{slug}/ (thin: scope, validate, call a service)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import services
from integrations.api import serializers
from integrations.models import CommandRun, Installation, Repository, WebhookDelivery
from workspaces.api.base import WorkspaceScopedGenericViewSet, WorkspaceScopedReadOnlyViewSet
from workspaces.models import Role


class InstallationViewSet(WorkspaceScopedReadOnlyViewSet):
    queryset = Installation.objects.all()
    serializer_class = serializers.InstallationSerializer
    filterset_fields = ["account_login"]
    ordering_fields = ["account_login", "created_at"]


class RepositoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedGenericViewSet):
    """Repositories; enabling, disabling and review settings need an admin (plan limits apply)."""

    queryset = Repository.objects.select_related("installation")
    serializer_class = serializers.RepositorySerializer
    filterset_fields = ["enabled", "provider", "installation"]
    ordering_fields = ["full_name", "created_at"]
    action_roles = {"enable": Role.ADMIN, "disable": Role.ADMIN, "partial_update": Role.ADMIN}

    @extend_schema(request=None, responses=serializers.RepositorySerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, workspace_slug: str, pk: str) -> Response:
        repository = services.repository_enable(repository=self.get_object(), actor=request.user)
        return Response(self.get_serializer(repository).data)

    @extend_schema(request=None, responses=serializers.RepositorySerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, workspace_slug: str, pk: str) -> Response:
        repository = services.repository_disable(repository=self.get_object(), actor=request.user)
        return Response(self.get_serializer(repository).data)

    @extend_schema(request=serializers.ReviewSettingsSerializer, responses=serializers.RepositorySerializer)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        repository = self.get_object()  # 404 for another workspace's repository before any validation
        body = serializers.ReviewSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        repository = services.repository_update_settings(
            repository=repository, review_settings=body.validated_data["review_settings"]
        )
        return Response(self.get_serializer(repository).data)


class WebhookDeliveryViewSet(WorkspaceScopedReadOnlyViewSet):
    """Deliveries routed to this workspace (deliveries nobody could place are operator-only)."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = serializers.WebhookDeliverySerializer
    filterset_fields = ["status", "event", "repository"]
    ordering_fields = ["id", "received_at"]
    read_role = Role.ADMIN  # payloads show code and people of the organisation

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "action", None) == "list":
            queryset = queryset.defer("payload", "body_excerpt")
        return queryset

    def get_serializer_class(self):
        if getattr(self, "action", None) == "retrieve":
            return serializers.WebhookDeliveryDetailSerializer
        return serializers.WebhookDeliverySerializer


class CommandRunViewSet(WorkspaceScopedReadOnlyViewSet):
    queryset = CommandRun.objects.all()
    serializer_class = serializers.CommandRunSerializer
    filterset_fields = ["status", "command", "repository"]
    ordering_fields = ["created_at"]
