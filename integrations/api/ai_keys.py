"""BYOK provider keys of a workspace: add (optionally validated), list (masked), show, delete, test.

    GET/POST   /api/v1/workspaces/{slug}/ai/keys/
    GET/DELETE /api/v1/workspaces/{slug}/ai/keys/{id}/
    POST       /api/v1/workspaces/{slug}/ai/keys/{id}/test/

Members read (masked: the last four characters only); admins and owners write and test. The
secret is write-only: no response, error body or log line ever carries it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.ai import services
from integrations.models import AIProvider, ProviderKey
from workspaces.api.base import WorkspaceScopedGenericViewSet
from workspaces.models import Role


class ProviderKeySerializer(serializers.ModelSerializer):
    masked_key = serializers.CharField(source="masked", read_only=True)

    class Meta:
        model = ProviderKey
        fields = [
            "id",
            "provider",
            "label",
            "base_url",
            "default_model",
            "masked_key",
            "last4",
            "status",
            "last_error",
            "last_validated_at",
            "last_used_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProviderKeyCreateSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=AIProvider.choices)
    label = serializers.CharField(max_length=100)
    # Write-only; trimmed; the error messages never echo the value.
    secret = serializers.CharField(write_only=True, min_length=8, max_length=1000, trim_whitespace=True)
    base_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    default_model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    validate = serializers.BooleanField(
        required=False, default=False, help_text="Check the key with a cheap provider call before storing it."
    )


class ProviderKeyTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status = serializers.CharField()
    error = serializers.DictField(allow_null=True, required=False)
    key = ProviderKeySerializer()


class ProviderKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceScopedGenericViewSet,
):
    """AI provider keys (BYOK). `provider` is `openai` (any OpenAI-compatible server with `base_url`)
    or `anthropic`."""

    queryset = ProviderKey.objects.all()
    serializer_class = ProviderKeySerializer
    read_role = Role.MEMBER
    write_role = Role.ADMIN
    action_roles = {"test": Role.ADMIN}
    filterset_fields = ["provider", "status"]
    ordering_fields = ["created_at", "provider", "label"]
    ordering = ["provider", "-created_at", "-id"]

    @extend_schema(request=ProviderKeyCreateSerializer, responses={201: ProviderKeySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ProviderKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = services.provider_key_create(
            workspace=self.workspace,
            actor=request.user,
            provider=data["provider"],
            label=data["label"],
            secret=data["secret"],
            base_url=data.get("base_url", ""),
            default_model=data.get("default_model", ""),
            validate=data.get("validate", False),
        )
        return Response(ProviderKeySerializer(key).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ProviderKey) -> None:
        services.provider_key_delete(key=instance, actor=self.request.user)

    @extend_schema(request=None, responses=ProviderKeyTestSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        result = services.provider_key_test(key=key, actor=request.user)
        return Response(
            {
                "ok": result.ok,
                "status": result.status,
                "error": result.error,
                "key": ProviderKeySerializer(key).data,
            }
        )
