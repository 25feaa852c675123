"""Operator views of analytics: events and rollups are read-only (history and derived data).

Operators can inspect any event or bucket, follow links to the workspace and repository, and
queue a recomputation of selected buckets' workspaces (the same job `rebuild_rollups` runs); they
cannot add, change or delete rows here.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from analytics.models import Event, Rollup, RollupDirty
from sentinel.admin_actions import ConsoleActionsMixin, console_action


def _admin_link(app_model: str, pk: Any, label: Any) -> str:
    if pk is None:
        return "—"
    try:
        return format_html('<a href="{}">{}</a>', reverse(f"admin:{app_model}_change", args=[pk]), label)
    except NoReverseMatch:  # a model without an admin page: plain text
        return str(label)


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, no change, no delete: the change page is a detail view."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "workspace_link", "repository_link", "actor", "idempotency_key", "recorded_at")
    list_filter = ("kind", "occurred_at", "recorded_at")
    search_fields = ("idempotency_key", "correlation_id", "workspace__slug", "actor")
    date_hierarchy = "occurred_at"
    list_select_related = ("workspace",)
    show_full_result_count = False  # COUNT(*) over millions of events on every page load is slow
    fields = (
        "kind",
        "workspace_link",
        "repository_link",
        "actor",
        "occurred_at",
        "recorded_at",
        "idempotency_key",
        "correlation_link",
        "data_pretty",
    )
    readonly_fields = fields

    @admin.display(description="workspace", ordering="workspace__slug")
    def workspace_link(self, obj: Event) -> str:
        return _admin_link("workspaces_workspace", obj.workspace_id, obj.workspace.slug)

    @admin.display(description="repository", ordering="repository_id")
    def repository_link(self, obj: Event) -> str:
        return _admin_link("integrations_repository", obj.repository_id, f"#{obj.repository_id}")

    @admin.display(description="correlation id")
    def correlation_link(self, obj: Event) -> str:
        if not obj.correlation_id:
            return "—"
        url = reverse("admin:analytics_event_changelist") + f"?q={obj.correlation_id}"
        return format_html('<a href="{}">{}</a> (all events of this trace)', url, obj.correlation_id)

    @admin.display(description="data")
    def data_pretty(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, sort_keys=True))


@admin.register(Rollup)
class RollupAdmin(ConsoleActionsMixin, ReadOnlyAdmin):
    list_display = (
        "bucket_start",
        "granularity",
        "workspace_link",
        "repository_link",
        "runs_created",
        "runs_completed",
        "runs_failed",
        "findings_total",
        "duration_p50_ms",
        "duration_p95_ms",
        "queue_wait_p95_ms",
        "cost_microusd",
        "computed_at",
    )
    list_filter = ("granularity", "bucket_start")
    search_fields = ("workspace__slug",)
    date_hierarchy = "bucket_start"
    list_select_related = ("workspace",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Rollup._meta.fields] + ["workspace_link", "repository_link"]

    @admin.display(description="workspace", ordering="workspace__slug")
    def workspace_link(self, obj: Rollup) -> str:
        return _admin_link("workspaces_workspace", obj.workspace_id, obj.workspace.slug)

    @admin.display(description="repository", ordering="repository_id")
    def repository_link(self, obj: Rollup) -> str:
        if obj.repository_id is None:
            return "(whole workspace)"
        return _admin_link("integrations_repository", obj.repository_id, f"#{obj.repository_id}")

    @console_action(
        label="Recompute",
        description="The rollups of the selected rows' workspaces are rebuilt from raw events, from each "
        "workspace's oldest selected bucket on (one job per workspace, on the bulk queue).",
        summary_fields=("workspace", "granularity"),
        batch=True,
    )
    def recompute_workspaces(self, request: HttpRequest, objects: list[Rollup], note: str) -> str:
        from analytics.jobs import rebuild_rollups
        from queues.dispatch import dispatch

        by_workspace: dict[int, Any] = {}
        for rollup in objects:
            bucket = rollup.bucket_start
            by_workspace[rollup.workspace_id] = min(bucket, by_workspace.get(rollup.workspace_id, bucket))
        for workspace_id, since in by_workspace.items():
            dispatch(
                rebuild_rollups,
                workspace_id=workspace_id,
                entity_ids={"workspace_id": workspace_id, "since": since.date().isoformat()},
                data={"workspace_ids": [workspace_id], "since": since.date().isoformat()},
            )
        return f"rollup recomputation queued for {len(by_workspace)} workspace(s)"


@admin.register(RollupDirty)
class RollupDirtyAdmin(ReadOnlyAdmin):
    """Days with events the rollups have not absorbed yet: a long list means the rollup job is behind."""

    list_display = ("workspace_id", "day", "marked_at")
    list_filter = ("day",)
    search_fields = ("=workspace_id",)
    ordering = ("marked_at",)
