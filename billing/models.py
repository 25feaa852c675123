"""Billing records: subscriptions, the append-only usage ledger and its rollups, run reservations,
Stripe events, and a read-only mirror of the plan catalog for the admin.

Plans themselves live in code (`billing.plans`); nothing here decides a limit.
"""

from __future__ import annotations

from django.db import models

from billing import plans
from workspaces.models import Workspace
from workspaces.tenancy import WorkspaceScopedManager


class Metric(models.TextChoices):
    REVIEW_RUN = "review_run", "Review runs"
    BRIEFING = "briefing", "Briefings"
    COMMAND = "command", "Commands"
    INPUT_TOKENS = "input_tokens", "Input tokens"
    OUTPUT_TOKENS = "output_tokens", "Output tokens"
    AI_COST_MICROUSD = "ai_cost_microusd", "AI cost (micro-USD)"
    # The part of AI cost paid through Sentinel's platform keys (not BYOK): the spend cap's meter.
    PLATFORM_AI_COST_MICROUSD = "platform_ai_cost_microusd", "AI cost on platform keys (micro-USD)"


class SubscriptionStatus(models.TextChoices):
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"


PLAN_CHOICES = [(name, name) for name in plans.PLAN_NAMES]


class PlanVersion(models.Model):
    """Read-only mirror of `billing.plans.CATALOG` (refreshed after migrate) so operators see it in
    the admin. Enforcement never reads this table."""

    name = models.CharField(max_length=32, choices=PLAN_CHOICES)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=64, blank=True)
    limits = models.JSONField(default=dict)
    is_latest = models.BooleanField(default=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="planversion_unique")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Subscription(models.Model):
    """The workspace's plan. At most one per workspace; no row means `free`.

    `stripe_state_at` is the creation time of the Stripe event whose state was applied last: an
    older event arriving late is ignored, so out-of-order deliveries never roll the row back.
    """

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="subscription")
    plan = models.CharField(max_length=32, choices=PLAN_CHOICES, default=plans.FREE)
    plan_version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    stripe_state_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["workspace_id"]

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.plan}/{self.status}"


class UsageRecord(models.Model):
    """One metered event. Append-only: written once by `services.record_usage`, never updated.

    `idempotency_key` is unique, so a retried job or a duplicated signal never counts twice.
    `period_start` is the billing period the event falls in (for the rollup and the summary).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="usage_records")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    quantity = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    period_start = models.DateTimeField()
    source = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Re-aggregation by the reconciler and the naive summary both read by this prefix.
            models.Index(fields=["workspace", "period_start", "metric"], name="usage_ws_period_metric"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.quantity} ({self.idempotency_key})"


class UsageTotal(models.Model):
    """Rollup of UsageRecord per (workspace, metric, period), kept in the same transaction as each
    record (an upsert), so the per-period summary reads a handful of rows at any ledger size.
    The daily reconciler recomputes recent periods from the ledger and repairs drift."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="usage_totals")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    period_start = models.DateTimeField()
    quantity = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-period_start", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "metric", "period_start"], name="usagetotal_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.metric}@{self.period_start:%Y-%m-%d}={self.quantity}"


class QuotaCounter(models.Model):
    """The quota's counter row per (workspace, metric, period).

    Review runs are reserved against `used` under a row lock (`SELECT ... FOR UPDATE` on this one
    row: PostgreSQL refuses FOR UPDATE with an aggregate, the original's bug). `denied` counts
    refusals; the first one in a period sends `quota_exhausted`.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="quota_counters")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    period_start = models.DateTimeField()
    used = models.IntegerField(default=0)
    denied = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-period_start", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "metric", "period_start"], name="quotacounter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.metric}@{self.period_start:%Y-%m-%d} used={self.used}"


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"  # counted; the run is executing
    CONSUMED = "consumed", "Consumed"  # counted; the run completed
    RELEASED = "released", "Released"  # not counted; the run was skipped, failed or cancelled


class RunReservation(models.Model):
    """A review run's claim on the period's run quota, one per `run_key` (idempotent reserve)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="run_reservations")
    run_key = models.CharField(max_length=255, unique=True)
    repository_id = models.BigIntegerField(null=True, blank=True)
    period_start = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["workspace", "period_start", "status"], name="reservation_ws_period")]

    def __str__(self) -> str:
        return f"{self.run_key} ({self.status})"


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"  # a type we do not handle, or stale (out of order)
    FAILED = "failed", "Failed"


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once per Stripe event id, processed by a job."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=128, db_index=True)
    api_version = models.CharField(max_length=64, blank=True)
    livemode = models.BooleanField(default=False)
    stripe_created_at = models.DateTimeField()
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED)
    outcome = models.CharField(max_length=500, blank=True)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="stripe_events"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"], name="stripeevent_status_received")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
