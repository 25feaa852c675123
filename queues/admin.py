"""Dead letters in the operator console: find them, see why they failed, replay or discard them.

Rows are written only by the worker and by queues.deadletters; the admin is read-only and its
actions call `replay_dead_letter` / `discard_dead_letter`, which keep their own DeadLetterEvent trail
next to the admin's LogEntry audit.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from queues.deadletters import discard_dead_letter, replay_dead_letter
from queues.models import DeadLetter, DeadLetterEvent, IdempotencyKey
from queues.topology import Queue
from sentinel.admin_actions import (
    ConsoleActionsMixin,
    ReadOnlyAdminMixin,
    actor_for,
    admin_link,
    console_action,
)


def _not_pending(dead_letter: DeadLetter) -> str | None:
    if dead_letter.status == DeadLetter.Status.PENDING:
        return None
    return f"already {dead_letter.status}"


class QueueFilter(admin.SimpleListFilter):
    """Queues in priority order (the topology's), not alphabetically."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(q.queue_name, q.queue_name) for q in Queue.by_priority()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(queue=self.value()) if self.value() else queryset


class WorkspaceFilter(admin.SimpleListFilter):
    """Workspaces that have dead letters (workspace_id is a plain column: jobs outlive their rows)."""

    title = "workspace"
    parameter_name = "workspace_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        from workspaces.models import Workspace

        ids = (
            DeadLetter.objects.exclude(workspace_id=None)
            .order_by()
            .values_list("workspace_id", flat=True)
            .distinct()[:200]
        )
        names = dict(Workspace.objects.filter(pk__in=list(ids)).values_list("pk", "slug"))
        return [(str(pk), names.get(pk, f"#{pk} (deleted)")) for pk in sorted(ids)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(workspace_id=self.value()) if self.value() else queryset


class DeadLetterEventInline(admin.TabularInline):
    model = DeadLetterEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "action", "actor", "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: DeadLetter | None = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(ConsoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "job_name",
        "queue",
        "status",
        "workspace_link",
        "attempts",
        "error_summary",
        "failed_at",
        "replay_count",
        "correlation_link",
    )
    list_filter = ("status", QueueFilter, WorkspaceFilter, "failed_at", "job_name")
    # "=" lookups: ids are matched exactly (fast on the indexes); the error text by substring.
    search_fields = ("=job_id", "=correlation_id", "=queue", "=workspace_id", "job_name", "error")
    date_hierarchy = "failed_at"
    ordering = ("-failed_at", "-id")
    list_per_page = 50
    inlines = [DeadLetterEventInline]
    fieldsets = (
        (None, {"fields": ("job_name", "job_id", "queue", "status", "workspace_id", "correlation_link")}),
        ("Failure", {"fields": ("error", "traceback_block", "attempts", "enqueued_at", "failed_at")}),
        ("Replay", {"fields": ("replay_count", "resolved_at", "created_at")}),
        ("Payload (sensitive values masked)", {"fields": ("payload_block",)}),
    )
    # payload/traceback are shown pre-formatted by the *_block fields instead.
    exclude = ("payload", "traceback", "correlation_id")

    def get_readonly_fields(self, request: HttpRequest, obj: DeadLetter | None = None) -> list[str]:
        return [
            *super().get_readonly_fields(request, obj),
            "correlation_link",
            "traceback_block",
            "payload_block",
        ]

    @admin.display(description="workspace", ordering="workspace_id")
    def workspace_link(self, obj: DeadLetter) -> str:
        if obj.workspace_id is None:
            return "—"
        url = reverse("admin:workspaces_workspace_change", args=[obj.workspace_id])
        return admin_link(url, obj.workspace_id)

    @admin.display(description="correlation id")
    def correlation_link(self, obj: DeadLetter) -> str:
        """Everything the console knows under this correlation id: runs, deliveries, dead letters..."""
        if not obj.correlation_id:
            return "—"
        from console.views import trace_url

        return admin_link(trace_url(obj.correlation_id), obj.correlation_id)

    @admin.display(description="error")
    def error_summary(self, obj: DeadLetter) -> str:
        first_line = (obj.error or "").splitlines()[0] if obj.error else ""
        return first_line[:120] + ("…" if len(first_line) > 120 else "")

    @admin.display(description="traceback")
    def traceback_block(self, obj: DeadLetter) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.traceback or "—")

    @admin.display(description="payload")
    def payload_block(self, obj: DeadLetter) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, default=str))

    @console_action(
        label="Replay",
        description=(
            "Each job is queued again with its current declaration (queue, retry policy, timeout) and the"
            " same job id, so side effects it already made are not repeated. The dead letter is marked"
            " replayed; if the job fails for good again, a new dead letter appears."
        ),
        ask_reason=True,
        summary_fields=("queue", "job_name"),
        skip_if=_not_pending,
    )
    def replay(self, request: HttpRequest, obj: DeadLetter, note: str) -> str:
        job_id = replay_dead_letter(dead_letter=obj, actor=actor_for(request), note=note)
        return f"job {job_id} queued again"

    @console_action(
        label="Discard",
        description=(
            "Each dead letter is marked handled without running its job again. The row and its"
            " history stay for the record."
        ),
        destructive=True,
        ask_reason=True,
        summary_fields=("queue", "job_name"),
        skip_if=_not_pending,
    )
    def discard(self, request: HttpRequest, obj: DeadLetter, note: str) -> str:
        discard_dead_letter(dead_letter=obj, actor=actor_for(request), reason=note)
        return "discarded"


@admin.register(DeadLetterEvent)
class DeadLetterEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The replay/discard trail the services keep (also shown inline on each dead letter)."""

    list_display = ("created_at", "action", "actor", "dead_letter", "note")
    list_filter = ("action", "created_at")
    search_fields = ("actor", "note", "=dead_letter__job_id")
    list_select_related = ("dead_letter",)
    raw_id_fields = ("dead_letter",)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Side effects that happened (one row each): look a key up to see whether an effect already ran."""

    list_display = ("key", "created_at")
    search_fields = ("key",)
    date_hierarchy = "created_at"
    show_full_result_count = False
