"""Operator views of review runs, findings and annotations.

Everything here is a record of what happened, written by the services and the workers, so it is
read-only (no add, no edit). Cancelling and re-running are actions with a confirmation page
(operator console, `sentinel.admin_actions`) that call `reviews.services`.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from reviews.models import ACTIVE_STATUSES, Annotation, Finding, ReviewResult, ReviewRun
from sentinel.admin_actions import ConsoleActionsMixin, actor_for, console_action


def format_html_join_safe(parts: list[str]) -> str:
    return format_html(" · ".join(["{}"] * len(parts)), *parts)


def _link(obj: Any, label: str | None = None) -> str:
    if obj is None:
        return "-"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:  # that model has no admin (yet)
        return label or str(obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Runs, findings and annotations are the record of what happened (and what billing and
        # analytics counted): nobody deletes them from the console; workspace deletion cascades.
        return False


class ReviewResultInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = ReviewResult
    extra = 0
    can_delete = False
    fields = ("risk_level", "findings_count", "counts_by_severity", "repeated_findings", "summary", "walkthrough")
    readonly_fields = fields


class FindingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Finding
    extra = 0
    can_delete = False
    fields = ("finding_link", "severity", "category", "path", "start_line", "end_line", "title", "fingerprint")
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="finding")
    def finding_link(self, obj: Finding) -> str:
        return _link(obj, f"#{obj.pk}")


class AnnotationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Annotation
    extra = 0
    can_delete = False
    fields = ("kind", "finding", "state", "external_id", "posted_at", "detail")
    readonly_fields = fields


PR_URL = re.compile(r"https?://[^/\s]+/(?P<full_name>[^/\s]+/[^/\s]+)/pulls?/(?P<number>\d+)")


def _not_ended(run: ReviewRun) -> str | None:
    return None if run.is_terminal else f"still {run.status}"


def _not_active(run: ReviewRun) -> str | None:
    return None if run.status in ACTIVE_STATUSES else f"already {run.status}"


@admin.register(ReviewRun)
class ReviewRunAdmin(ConsoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "workspace", "repository_link", "pr_number", "short_head", "trigger", "status", "skip_reason",
        "review_mode", "findings", "provider", "model", "progress", "queued_at", "finished_at",
    )
    list_filter = (
        "status", "trigger", "skip_reason", "review_mode", "queue", "provider", "byok", "created_at",
        ("workspace", admin.RelatedOnlyFieldListFilter),
    )  # fmt: skip
    search_fields = ("=id", "head_sha", "base_sha", "repository__full_name", "workspace__slug", "correlation_id",
                     "idempotency_key", "error_code")
    list_select_related = ("workspace", "repository")
    date_hierarchy = "created_at"
    inlines = [ReviewResultInline, FindingInline, AnnotationInline]
    fieldsets = (
        ("Run", {"fields": ("workspace", "repository_link", "pr_number", "base_sha", "head_sha", "trigger",
                            "trigger_key", "status", "skip_reason", "skip_message", "error_code", "error_message")}),
        ("Execution", {"fields": ("queue", "job_links", "progress", "progress_step", "attempts", "queued_at",
                                  "started_at", "finished_at", "correlation_id", "idempotency_key")}),
        ("Review", {"fields": ("review_mode", "diff_base_sha", "force_full", "provider", "model", "byok",
                               "input_tokens", "output_tokens", "cost_microusd", "coverage")}),
        ("Policy", {"fields": ("policy_version", "config_errors", "policy_snapshot", "pull_request")}),
        ("Audit", {"fields": ("requested_by", "requested_by_actor", "cancelled_by", "rerun_link", "superseded_link",
                              "findings_link", "created_at", "updated_at")}),
        ("Related", {"fields": ("related_links",)}),
    )
    readonly_fields = (
        "workspace", "repository_link", "pr_number", "base_sha", "head_sha", "trigger", "trigger_key", "status",
        "skip_reason", "skip_message", "error_code", "error_message", "queue", "job_links", "progress",
        "progress_step", "attempts", "queued_at", "started_at", "finished_at", "correlation_id", "idempotency_key",
        "review_mode", "diff_base_sha", "force_full", "provider", "model", "byok", "input_tokens", "output_tokens",
        "cost_microusd", "coverage", "policy_version", "config_errors", "policy_snapshot", "pull_request",
        "requested_by", "requested_by_actor", "cancelled_by", "rerun_link", "superseded_link", "findings_link",
        "created_at", "updated_at", "related_links",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewRun]:
        return super().get_queryset(request).annotate(findings_total=Count("findings"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ReviewRun], search_term: str
    ) -> tuple[QuerySet[ReviewRun], bool]:
        """A pasted pull request URL (`https://github.com/acme/api/pull/12`) finds that PR's runs."""
        match = PR_URL.search(search_term.strip())
        if match:
            return queryset.filter(
                repository__full_name__iexact=match["full_name"], pr_number=int(match["number"])
            ), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="repository", ordering="repository__full_name")
    def repository_link(self, obj: ReviewRun) -> str:
        return _link(obj.repository, obj.repository.full_name)

    @admin.display(description="head")
    def short_head(self, obj: ReviewRun) -> str:
        return obj.head_sha[:10]

    @admin.display(description="findings", ordering="findings_total")
    def findings(self, obj: ReviewRun) -> int:
        return getattr(obj, "findings_total", 0)

    @admin.display(description="findings")
    def findings_link(self, obj: ReviewRun) -> str:
        url = reverse("admin:reviews_finding_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{} finding(s)</a>', url, obj.findings.count())

    @admin.display(description="re-run of")
    def rerun_link(self, obj: ReviewRun) -> str:
        return _link(obj.rerun_of, f"run {obj.rerun_of_id}") if obj.rerun_of_id else "-"

    @admin.display(description="superseded by")
    def superseded_link(self, obj: ReviewRun) -> str:
        return _link(obj.superseded_by, f"run {obj.superseded_by_id}") if obj.superseded_by_id else "-"

    @admin.display(description="jobs")
    def job_links(self, obj: ReviewRun) -> str:
        return format_html("<code>{}</code> · <code>{}</code>", obj.job_id, obj.annotations_job_id)

    @admin.display(description="related")
    def related_links(self, obj: ReviewRun) -> str:
        """Links to what this run caused or came from, each a filtered list in its own app's admin."""
        from billing.models import RunReservation, UsageRecord
        from console.views import trace_url
        from integrations.models import WebhookDelivery
        from queues.models import DeadLetter
        from sentinel.admin_actions import admin_changelist_url

        job_ids = ",".join([obj.job_id, obj.release_job_id, obj.annotations_job_id])
        links = [
            (admin_changelist_url(Finding, run__id__exact=obj.pk), f"{obj.findings.count()} finding(s)"),
            (admin_changelist_url(Annotation, run__id__exact=obj.pk), f"{obj.annotations.count()} annotation(s)"),
            (
                admin_changelist_url(DeadLetter, job_id__in=job_ids),
                f"{DeadLetter.objects.filter(job_id__in=job_ids.split(',')).count()} dead letter(s)",
            ),
            (admin_changelist_url(UsageRecord, source=obj.billing_run_key), "usage records"),
            (admin_changelist_url(RunReservation, run_key=obj.billing_run_key), "quota reservation"),
        ]
        if obj.correlation_id:
            links.append(
                (admin_changelist_url(WebhookDelivery, correlation_id=obj.correlation_id), "webhook deliveries")
            )
            links.append((trace_url(obj.correlation_id), f"trace {obj.correlation_id}"))
        return format_html_join_safe([format_html('<a href="{}">{}</a>', url, text) for url, text in links if url])

    @console_action(
        label="Re-run",
        description=(
            "Each run's head commit is reviewed again, in full, as a new run (linked back to this one)."
            " Asking twice for the same run returns the same new run. Re-runs use AI credits and count"
            " against the workspace's plan."
        ),
        summary_fields=("status", "workspace"),
        skip_if=_not_ended,
    )
    def rerun(self, request: HttpRequest, obj: ReviewRun, note: str) -> str:
        from reviews.services import rerun

        new_run = rerun(run=obj, actor=actor_for(request))
        return f"new run {new_run.pk} ({new_run.status})"

    @console_action(
        label="Cancel",
        description="Each queued or running run ends as cancelled and its job is cancelled or stopped.",
        destructive=True,
        ask_reason=True,
        summary_fields=("status", "workspace"),
        skip_if=_not_active,
    )
    def cancel(self, request: HttpRequest, obj: ReviewRun, note: str) -> str:
        from reviews.services import cancel_run

        cancelled = cancel_run(run=obj, actor=actor_for(request))
        return f"run {cancelled.pk} {cancelled.status}"


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "run_link", "severity", "category", "location", "title", "created_at")
    list_filter = ("severity", "category", "created_at")
    search_fields = ("title", "path", "fingerprint", "=run__id", "run__repository__full_name")
    list_select_related = ("run", "run__repository")
    raw_id_fields = ("run",)

    @admin.display(description="run", ordering="run_id")
    def run_link(self, obj: Finding) -> str:
        return _link(obj.run, f"run {obj.run_id} ({obj.run.repository.full_name}#{obj.run.pr_number})")

    @admin.display(description="location")
    def location(self, obj: Finding) -> str:
        return f"{obj.path}:{obj.start_line}" if obj.start_line else obj.path


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "run_link", "kind", "state", "finding", "external_id", "posted_at")
    list_filter = ("kind", "state", "posted_at")
    search_fields = ("=run__id", "external_id", "marker")
    list_select_related = ("run",)
    raw_id_fields = ("run", "finding")

    @admin.display(description="run", ordering="run_id")
    def run_link(self, obj: Annotation) -> str:
        return _link(obj.run, f"run {obj.run_id}")
