"""Billing in the operator console.

The plan catalog (code) is shown read-only through its mirror; subscriptions change only through
services (admin actions), usage, reservations and Stripe events are read-only records.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Case, Value, When
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from billing import plans, services, webhooks
from billing.models import (
    PlanVersion,
    QuotaCounter,
    RunReservation,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    UsageRecord,
    UsageTotal,
)
from sentinel.admin_actions import ConsoleActionsMixin, actor_for, console_action


def _workspace_link(obj: Any) -> str:
    workspace = obj.workspace
    if workspace is None:
        return "-"
    url = reverse("admin:workspaces_workspace_change", args=[workspace.pk])
    return format_html('<a href="{}">{}</a>', url, workspace.slug)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only or external records: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PlanVersion)
class PlanVersionAdmin(ReadOnlyAdmin):
    """The plan catalog declared in billing/plans.py (change it there, in a new version)."""

    list_display = (
        "plan", "runs", "commands", "repositories", "seats", "concurrency", "review_queue", "ai", "subscriptions",
    )
    list_filter = ("name", "is_latest")
    readonly_fields = ("name", "version", "title", "is_latest", "limits", "synced_at")

    def get_queryset(self, request: HttpRequest) -> Any:
        tier = Case(*[When(name=name, then=Value(rank)) for name, rank in plans.RANK.items()], default=Value(99))
        return self.model._default_manager.annotate(tier=tier).order_by(*self.get_ordering(request))

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["tier", "-version"]  # tier order (free, pro, team, enterprise), newest version first

    @admin.display(description="plan", ordering="tier")
    def plan(self, obj: PlanVersion) -> str:
        return f"{obj.name} v{obj.version}" + ("" if obj.is_latest else " (old)")

    def _limit(self, obj: PlanVersion, key: str) -> Any:
        value = obj.limits.get(key)
        return "unlimited" if value is None else value

    @admin.display(description="runs / month")
    def runs(self, obj: PlanVersion) -> Any:
        return self._limit(obj, "review_runs_per_month")

    @admin.display(description="repositories")
    def repositories(self, obj: PlanVersion) -> Any:
        return self._limit(obj, "repositories")

    @admin.display(description="seats")
    def seats(self, obj: PlanVersion) -> Any:
        return self._limit(obj, "seats")

    @admin.display(description="commands / month")
    def commands(self, obj: PlanVersion) -> Any:
        return self._limit(obj, "commands_per_month")

    @admin.display(description="concurrent reviews")
    def concurrency(self, obj: PlanVersion) -> Any:
        return self._limit(obj, "max_concurrent_reviews")

    @admin.display(description="review queue")
    def review_queue(self, obj: PlanVersion) -> Any:
        return obj.limits.get("review_queue")

    @admin.display(description="AI (BYOK, platform spend cap / month)")
    def ai(self, obj: PlanVersion) -> str:
        cap = obj.limits.get("ai_spend_cap_microusd")
        cap_text = "no cap" if cap is None else f"${cap / plans.USD:.0f}"
        return f"BYOK {obj.limits.get('byok')}, {cap_text}"

    @admin.display(description="subscriptions")
    def subscriptions(self, obj: PlanVersion) -> str:
        count = Subscription.objects.filter(plan=obj.name, plan_version=obj.version).count()
        url = reverse("admin:billing_subscription_changelist") + f"?plan__exact={obj.name}&plan_version={obj.version}"
        return format_html('<a href="{}">{}</a>', url, count)


def _stripe_billed(subscription: Subscription) -> str | None:
    if subscription.stripe_subscription_id and subscription.status != "canceled":
        return "billed by Stripe: change the plan in Stripe"
    return None


def _move_action(plan_name: str):  # noqa: ANN202 - builds one console action per plan
    def move(self: admin.ModelAdmin, request: HttpRequest, obj: Subscription, note: str) -> str:
        updated = services.change_plan(workspace_id=obj.workspace_id, plan=plan_name, actor=actor_for(request))
        return f"now {updated.plan}/{updated.status}"

    move.__name__ = move.__qualname__ = f"move_to_{plan_name}"  # the action's name, set before registering
    return console_action(
        label=f"Move to {plan_name}",
        description=(
            f"Each workspace is put on the {plan_name} plan (latest version), active, billed outside Stripe. "
            "New runs use the plan's limits and review queue at once. Stripe-billed subscriptions are skipped."
        ),
        ask_reason=True,
        summary_fields=("plan", "status"),
        skip_if=_stripe_billed,
    )(move)


@admin.register(Subscription)
class SubscriptionAdmin(ConsoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "workspace_link", "plan", "status", "effective_plan", "current_period_end", "cancel_at_period_end",
        "stripe_subscription_id", "updated_at",
    )
    list_filter = ("plan", "status", "cancel_at_period_end", "plan_version")
    search_fields = ("workspace__slug", "workspace__name", "stripe_customer_id", "stripe_subscription_id")
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace",)
    ordering = ("-updated_at",)
    readonly_fields = [f.name for f in Subscription._meta.fields if f.name != "id"] + ["effective_plan", "usage_links"]
    move_to_free = _move_action("free")
    move_to_pro = _move_action("pro")
    move_to_team = _move_action("team")
    move_to_enterprise = _move_action("enterprise")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # every workspace gets its row when created

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="workspace", ordering="workspace__slug")
    def workspace_link(self, obj: Subscription) -> str:
        return _workspace_link(obj)

    @admin.display(description="limits in force")
    def effective_plan(self, obj: Subscription) -> str:
        from billing.selectors import effective_plan

        return effective_plan(obj).name

    @admin.display(description="usage")
    def usage_links(self, obj: Subscription) -> str:
        totals = reverse("admin:billing_usagetotal_changelist") + f"?workspace__id__exact={obj.workspace_id}"
        records = reverse("admin:billing_usagerecord_changelist") + f"?workspace__id__exact={obj.workspace_id}"
        events = reverse("admin:billing_stripeevent_changelist") + f"?workspace__id__exact={obj.workspace_id}"
        return format_html(
            '<a href="{}">period totals</a> · <a href="{}">ledger</a> · <a href="{}">Stripe events</a>',
            totals, records, events,
        )


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "workspace_link", "metric", "quantity", "occurred_at", "period_start", "source", "idempotency_key")
    list_filter = ("metric",)
    search_fields = ("=idempotency_key", "=workspace__slug", "source")
    list_select_related = ("workspace",)
    ordering = ("-id",)
    show_full_result_count = False  # millions of rows: no COUNT(*) per page
    readonly_fields = ("workspace", "metric", "quantity", "occurred_at", "period_start", "source", "idempotency_key", "created_at")

    @admin.display(description="workspace")
    def workspace_link(self, obj: UsageRecord) -> str:
        return _workspace_link(obj)


@admin.register(UsageTotal)
class UsageTotalAdmin(ReadOnlyAdmin):
    list_display = ("workspace_link", "period_start", "metric", "quantity", "updated_at")
    list_filter = ("metric", "period_start")
    search_fields = ("=workspace__slug",)
    list_select_related = ("workspace",)

    @admin.display(description="workspace")
    def workspace_link(self, obj: UsageTotal) -> str:
        return _workspace_link(obj)


@admin.register(QuotaCounter)
class QuotaCounterAdmin(ReadOnlyAdmin):
    list_display = ("workspace_link", "metric", "period_start", "used", "denied", "updated_at")
    list_filter = ("metric", "period_start")
    search_fields = ("=workspace__slug",)
    list_select_related = ("workspace",)

    @admin.display(description="workspace")
    def workspace_link(self, obj: QuotaCounter) -> str:
        return _workspace_link(obj)


@admin.register(RunReservation)
class RunReservationAdmin(ReadOnlyAdmin):
    list_display = ("run_key", "workspace_link", "repository_id", "period_start", "status", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("=run_key", "=workspace__slug")
    list_select_related = ("workspace",)
    show_full_result_count = False

    @admin.display(description="workspace")
    def workspace_link(self, obj: RunReservation) -> str:
        return _workspace_link(obj)


@admin.register(StripeEvent)
class StripeEventAdmin(ConsoleActionsMixin, ReadOnlyAdmin):
    list_display = ("event_id", "type", "status", "workspace_link", "stripe_created_at", "received_at", "processed_at", "outcome")
    list_filter = ("status", "type", "livemode")
    search_fields = ("=event_id", "=workspace__slug")
    list_select_related = ("workspace",)
    readonly_fields = (
        "event_id", "type", "api_version", "livemode", "stripe_created_at", "status", "outcome", "workspace",
        "received_at", "processed_at", "payload",
    )

    @admin.display(description="workspace")
    def workspace_link(self, obj: StripeEvent) -> str:
        return _workspace_link(obj)

    @console_action(
        label="Apply again",
        description="Each event is put back to received and processed again on the webhooks queue "
        "(stale events are still skipped; applying is idempotent).",
        summary_fields=("status", "type"),
        skip_if=lambda e: None if e.status in (StripeEventStatus.RECEIVED, StripeEventStatus.FAILED) else f"already {e.status}",
    )
    def apply_again(self, request: HttpRequest, obj: StripeEvent, note: str) -> str:
        job_id = webhooks.retry_event(obj)
        return f"queued {job_id}"
