"""Serializers of the integrations API: shapes and validation only (writes go through services)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import CommandRun, Installation, Repository, WebhookDelivery
from integrations.services import REVIEW_SETTING_TYPES


class InstallationSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Installation
        fields = [
            "id", "github_installation_id", "account_login", "account_type", "repository_selection",
            "permissions", "events", "is_active", "suspended_at", "deleted_at", "synced_at", "created_at",
        ]
        read_only_fields = fields


class RepositorySerializer(serializers.ModelSerializer):
    installation_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Repository
        fields = [
            "id", "provider", "provider_id", "full_name", "default_branch", "private", "enabled",
            "review_settings", "installation_id", "removed_at", "created_at", "updated_at",
        ]
        read_only_fields = [f for f in fields if f != "review_settings"]


class ReviewSettingsSerializer(serializers.Serializer):
    """PATCH body: `{"review_settings": {...}}` with the known dashboard keys only."""

    review_settings = serializers.DictField()

    def validate_review_settings(self, value: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for key, item in value.items():
            expected = REVIEW_SETTING_TYPES.get(key)
            if expected is None:
                errors.append(f"Unknown setting {key!r}; known: {', '.join(sorted(REVIEW_SETTING_TYPES))}.")
            elif not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
                errors.append(f"{key!r} must be a {expected.__name__}.")
        if errors:
            raise serializers.ValidationError(errors)
        return value


class WebhookDeliverySerializer(serializers.ModelSerializer):
    repository_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "provider", "delivery_id", "event", "action", "installation_id", "repository_id",
            "status", "reason", "received_at", "processed_at", "correlation_id",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload"]
        read_only_fields = fields


class CommandRunSerializer(serializers.ModelSerializer):
    repository_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = CommandRun
        fields = [
            "id", "repository_id", "pr_number", "comment_id", "command", "arguments", "author_login",
            "author_association", "status", "reason", "review_run_id", "correlation_id", "created_at",
            "started_at", "finished_at",
        ]
        read_only_fields = fields
