"""Operator console for installations, repositories, webhook deliveries and comment commands.

Webhook deliveries and command runs are external/append-only records: read-only, with actions
that call services (re-queue a delivery, re-sync an installation). Nothing secret is stored on
these models (installation tokens live only in the cache), so nothing is masked here.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from integrations import services
from integrations.models import (
    CommandRun,
    DeliveryStatus,
    Installation,
    PausedPullRequest,
    Repository,
    WebhookDelivery,
)
from sentinel.admin_actions import ConsoleActionsMixin, actor_for, console_action


def _link(obj, label: str | None = None) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


class RepositoryInline(admin.TabularInline):
    model = Repository
    fields = ["full_name", "enabled", "private", "default_branch", "removed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Installation)
class InstallationAdmin(ConsoleActionsMixin, admin.ModelAdmin):
    list_display = ["account_login", "github_installation_id", "account_type", "workspace_link", "state", "synced_at", "created_at"]
    list_filter = ["account_type", ("suspended_at", admin.EmptyFieldListFilter), ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["account_login", "=github_installation_id", "workspace__slug"]
    list_select_related = ["workspace"]
    raw_id_fields = ["workspace"]
    readonly_fields = [
        "github_installation_id", "account_login", "account_type", "account_id", "repository_selection",
        "permissions", "events", "suspended_at", "deleted_at", "synced_at", "created_at", "updated_at",
    ]
    inlines = [RepositoryInline]

    @admin.display(description="workspace", ordering="workspace__slug")
    def workspace_link(self, obj: Installation) -> str:
        return _link(obj.workspace)

    @admin.display(description="state")
    def state(self, obj: Installation) -> str:
        if obj.deleted_at:
            return "deleted"
        return "suspended" if obj.suspended_at else "active"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # installations come from GitHub

    def save_model(self, request: HttpRequest, obj: Installation, form, change: bool) -> None:
        # The only editable field is the workspace: relinking moves the repositories along.
        if change and "workspace" in form.changed_data:
            original = Installation.objects.get(pk=obj.pk)
            services.installation_relink(installation=original, workspace=obj.workspace, actor=request.user)
            self.message_user(request, f"Installation relinked to {obj.workspace}; its repositories moved with it.")

    @console_action(
        label="Sync now",
        description="Each installation's repositories and state are fetched from GitHub again (sync queue).",
        summary_fields=("account_type",),
        skip_if=lambda installation: "deleted" if installation.deleted_at else None,
    )
    def sync_now(self, request: HttpRequest, obj: Installation, note: str) -> str:
        from integrations import jobs
        from queues.dispatch import dispatch

        job_id = dispatch(jobs.sync_installation, workspace_id=obj.workspace_id, entity_ids={"installation_id": obj.pk})
        return f"sync job {job_id} queued"


@admin.register(Repository)
class RepositoryAdmin(ConsoleActionsMixin, admin.ModelAdmin):
    list_display = ["full_name", "provider", "enabled", "private", "workspace_link", "installation_link", "removed_at", "updated_at"]
    list_filter = ["provider", "enabled", "private", ("removed_at", admin.EmptyFieldListFilter),
                   ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["full_name", "=provider_id", "workspace__slug"]
    list_select_related = ["workspace", "installation"]
    raw_id_fields = ["workspace", "installation"]
    readonly_fields = ["provider", "provider_id", "full_name", "enabled", "private", "default_branch", "installation",
                       "workspace", "removed_at", "created_at", "updated_at"]

    @admin.display(description="workspace", ordering="workspace__slug")
    def workspace_link(self, obj: Repository) -> str:
        return _link(obj.workspace)

    @admin.display(description="installation")
    def installation_link(self, obj: Repository) -> str:
        return _link(obj.installation, obj.installation.account_login if obj.installation else None)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Repository, form, change: bool) -> None:
        if change and "review_settings" in form.changed_data:
            services.repository_update_settings(repository=obj, review_settings=obj.review_settings)

    @console_action(
        label="Enable",
        description="Automatic review is turned on for each repository, within its workspace plan's repository limit.",
        summary_fields=("workspace",),
        skip_if=lambda repo: "already enabled" if repo.enabled else ("removed" if repo.removed_at else None),
    )
    def enable(self, request: HttpRequest, obj: Repository, note: str) -> str:
        services.repository_enable(repository=obj, actor=request.user)
        return "enabled"

    @console_action(
        label="Disable",
        description="Automatic review is turned off for each repository; open runs finish, no new ones start.",
        destructive=True,
        ask_reason=True,
        summary_fields=("workspace",),
        skip_if=lambda repo: None if repo.enabled else "already disabled",
    )
    def disable(self, request: HttpRequest, obj: Repository, note: str) -> str:
        services.repository_disable(repository=obj, actor=request.user)
        return "disabled"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ConsoleActionsMixin, admin.ModelAdmin):
    list_display = ["delivery_id", "event", "action", "status", "short_reason", "workspace_link", "installation_id", "received_at", "processed_at"]
    # No workspace filter: its DISTINCT over the (large) delivery table would run on every page.
    list_filter = ["status", "event", "provider", "received_at"]
    search_fields = ["=delivery_id", "=correlation_id", "event", "reason", "=installation_id"]
    list_select_related = ["workspace"]
    readonly_fields = ["provider", "delivery_id", "event", "action", "hook_id", "installation_id", "workspace",
                       "repository", "status", "reason", "received_at", "processed_at", "correlation_id",
                       "trace_link", "pretty_payload", "body_excerpt"]
    exclude = ["payload"]
    show_full_result_count = False  # the table is large; avoid COUNT(*) on every page

    @admin.display(description="reason")
    def short_reason(self, obj: WebhookDelivery) -> str:
        return (obj.reason[:80] + "…") if len(obj.reason) > 80 else obj.reason

    @admin.display(description="workspace")
    def workspace_link(self, obj: WebhookDelivery) -> str:
        return _link(obj.workspace)

    @admin.display(description="trace")
    def trace_link(self, obj: WebhookDelivery) -> str:
        """The runs, commands and dead letters this delivery caused (they carry its correlation id)."""
        from console.views import trace_url

        if not obj.correlation_id:
            return "-"
        return format_html('<a href="{}">everything under {}</a>', trace_url(obj.correlation_id), obj.correlation_id)

    @admin.display(description="payload")
    def pretty_payload(self, obj: WebhookDelivery) -> str:
        if obj.payload is None:
            return "-"
        return format_html("<pre style='max-height:40em;overflow:auto'>{}</pre>", json.dumps(obj.payload, indent=2)[:200_000])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @console_action(
        label="Re-process",
        description=(
            "Each delivery is routed again from its stored payload (failed ones go back to received first)."
            " Routing locks the delivery and handles only received ones, so nothing is routed twice."
        ),
        summary_fields=("status", "event"),
        skip_if=lambda d: None if d.status in (DeliveryStatus.RECEIVED, DeliveryStatus.FAILED) else f"already {d.status}",
    )
    def reprocess(self, request: HttpRequest, obj: WebhookDelivery, note: str) -> str:
        from integrations.github.routing import reprocess_delivery

        job_id = reprocess_delivery(delivery_pk=obj.pk, actor=actor_for(request))
        return f"routing job {job_id} queued"


@admin.register(CommandRun)
class CommandRunAdmin(admin.ModelAdmin):
    list_display = ["external_reference", "command", "status", "repository_link", "pr_number", "author_login", "author_association", "created_at", "finished_at"]
    list_filter = ["status", "command", "author_association"]
    search_fields = ["external_reference", "author_login", "repository__full_name"]
    list_select_related = ["repository"]
    readonly_fields = [f.name for f in CommandRun._meta.fields]

    @admin.display(description="repository")
    def repository_link(self, obj: CommandRun) -> str:
        return _link(obj.repository)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PausedPullRequest)
class PausedPullRequestAdmin(admin.ModelAdmin):
    list_display = ["repository", "pr_number", "paused_by_login", "created_at"]
    search_fields = ["repository__full_name", "paused_by_login"]
    list_select_related = ["repository"]
    readonly_fields = ["workspace", "repository", "pr_number", "paused_by_login", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# BYOK provider keys (AI area): registered in integrations/ai/admin.py.
from integrations.ai.admin import ProviderKeyAdmin  # noqa: E402, F401
