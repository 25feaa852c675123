"""Operator console for BYOK provider keys. The secret is never shown: not the ciphertext, not a
prefix — only the masked last four characters. Keys are added by workspace admins through the
API (the admin has no secret field); operators can test, close the circuit breaker and deactivate
(delete through the service, audited; Django's own delete is off so every removal is)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from integrations.ai import circuit, services
from integrations.models import ProviderKey, ProviderKeyStatus
from sentinel.admin_actions import ConsoleActionsMixin, console_action


@admin.register(ProviderKey)
class ProviderKeyAdmin(ConsoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "id", "workspace_link", "provider", "label", "masked", "status", "default_model", "base_url",
        "last_validated_at", "last_used_at", "created_at",
    )  # fmt: skip
    list_filter = ("provider", "status", "created_at")
    search_fields = ("=id", "label", "workspace__slug", "workspace__name", "default_model", "base_url")
    list_select_related = ("workspace", "created_by")
    raw_id_fields = ("workspace", "created_by")
    fields = (
        "workspace_link", "provider", "label", "masked", "status", "last_error", "base_url", "default_model",
        "breaker", "last_validated_at", "last_used_at", "created_by", "created_at", "updated_at",
    )  # fmt: skip
    # Read-only: keys belong to their workspace and change through its API (services); operators test,
    # close a breaker or delete.
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys carry a secret: workspace admins add them through the API

    def has_delete_permission(self, request: HttpRequest, obj: ProviderKey | None = None) -> bool:
        return False  # removal goes through the Deactivate action: the service, a reason, an audit entry

    @admin.display(description="workspace", ordering="workspace__slug")
    def workspace_link(self, obj: ProviderKey) -> str:
        url = reverse("admin:workspaces_workspace_change", args=[obj.workspace_id])
        return format_html('<a href="{}">{}</a>', url, obj.workspace.slug)

    @admin.display(description="key")
    def masked(self, obj: ProviderKey) -> str:
        return obj.masked

    @admin.display(description="circuit breaker")
    def breaker(self, obj: ProviderKey) -> str:
        left = circuit.open_for(obj.workspace_id, obj.provider)
        return f"open ({left} s of cooldown left)" if left else "closed"

    @console_action(
        label="Test",
        description="Calls the provider's model list with each key (free). A rejected key is marked invalid "
        "and its workspace is told; a working invalid key becomes active again.",
        summary_fields=("provider", "status"),
    )
    def test_key(self, request: HttpRequest, obj: ProviderKey, note: str) -> str:
        result = services.provider_key_test(key=obj)
        if result.ok:
            return "the provider accepted the key"
        error = result.error or {}
        return f"failed: {error.get('code')} (HTTP {error.get('status')}) — key is {result.status}"

    @console_action(
        label="Close circuit breaker",
        description="Ends the cooldown of this provider for the key's workspace, so the next review tries it again.",
        skip_if=lambda key: None if circuit.open_for(key.workspace_id, key.provider) else "breaker is closed",
    )
    def close_breaker(self, request: HttpRequest, obj: ProviderKey, note: str) -> str:
        circuit.reset(obj.workspace_id, obj.provider)
        return "circuit breaker closed"

    @console_action(
        label="Deactivate",
        description="Each key is deleted with its encrypted secret, so it can never be used again (a leaked or "
        "abused key). Reviews of the workspace then use the platform's key or stop, as its plan says; a "
        "workspace admin adds a new key through the API.",
        destructive=True,
        reason_required=True,
        summary_fields=("provider", "status"),
    )
    def deactivate(self, request: HttpRequest, obj: ProviderKey, note: str) -> str:
        masked = obj.masked
        services.provider_key_delete(key=obj, actor=request.user)
        return f"key {masked} deleted"


__all__ = ["ProviderKeyAdmin", "ProviderKeyStatus"]
