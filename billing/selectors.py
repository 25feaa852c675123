"""Reads of the billing domain: which plan a workspace is on, its period, queue and usage.

`plan_for`, `review_queue_for` and `max_concurrent_reviews` are the contract other apps call
(docs/billing.md). They never raise for a workspace without a subscription: that is `free`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from billing import plans
from billing.models import Metric, QuotaCounter, Subscription, SubscriptionStatus, UsageTotal
from billing.periods import Period, calendar_month, rolled
from billing.plans import Plan
from queues.concurrency import default_concurrency_resolver
from queues.topology import Queue

REVIEW_QUEUES = frozenset({Queue.REVIEWS_ENTERPRISE, Queue.REVIEWS_PAID, Queue.REVIEWS_DEFAULT})
ACTIVE_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})


def _grace() -> timedelta:
    return timedelta(hours=getattr(settings, "BILLING_RENEWAL_GRACE_HOURS", 48))


def subscription_for(workspace_id: int) -> Subscription | None:
    return Subscription.objects.filter(workspace_id=workspace_id).first()


def paid_plan_active(subscription: Subscription | None, now: datetime | None = None) -> bool:
    """Whether the subscription's own (paid) plan applies now.

    Active or trialing, and — when Stripe bills it — its period has not ended more than the renewal
    grace ago (a missed renewal webhook must not give a paid plan forever). Anything else falls back
    to the free allowance; it never blocks everything (the original's §11 item 6).
    """
    if subscription is None or subscription.plan == plans.FREE:
        return False
    if subscription.status not in ACTIVE_STATUSES:
        return False
    if subscription.stripe_subscription_id and subscription.current_period_end is not None:
        now = now or timezone.now()
        return now < subscription.current_period_end + _grace()
    return True


def effective_plan(subscription: Subscription | None, now: datetime | None = None) -> Plan:
    if paid_plan_active(subscription, now):
        assert subscription is not None  # noqa: S101 - narrowed by paid_plan_active
        return plans.get(subscription.plan, subscription.plan_version)
    if subscription is not None and subscription.plan == plans.FREE:
        return plans.get(plans.FREE, subscription.plan_version)
    return plans.free()


def plan_for(workspace_id: int) -> Plan:
    """The plan whose limits apply to `workspace_id` right now."""
    return effective_plan(subscription_for(workspace_id))


def review_queue_for(workspace_id: int) -> Queue:
    """The review tier queue for the workspace's current plan (a downgrade applies to new runs at once)."""
    return plan_for(workspace_id).review_queue


def max_concurrent_reviews(*, workspace_id: int, queue: Queue) -> int | None:
    """`SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER`: the plan's review concurrency on review queues;
    the job platform's settings-based default on every other queue. None = unlimited."""
    if queue in REVIEW_QUEUES:
        return plan_for(workspace_id).max_concurrent_reviews
    return default_concurrency_resolver(workspace_id=workspace_id, queue=queue)


def period_of(subscription: Subscription | None, moment: datetime) -> Period:
    """The billing period containing `moment` for this subscription state."""
    if (
        paid_plan_active(subscription, moment)
        and subscription is not None
        and subscription.current_period_start is not None
        and subscription.current_period_end is not None
        and subscription.current_period_start <= moment
    ):
        return rolled(subscription.current_period_start, subscription.current_period_end, moment)
    return calendar_month(moment)


def current_period(workspace_id: int, now: datetime | None = None) -> Period:
    return period_of(subscription_for(workspace_id), now or timezone.now())


@dataclass(frozen=True)
class PlanState:
    """Everything a limit check needs, read once."""

    subscription: Subscription | None
    plan: Plan
    period: Period


def plan_state(workspace_id: int, now: datetime | None = None) -> PlanState:
    now = now or timezone.now()
    subscription = subscription_for(workspace_id)
    return PlanState(subscription, effective_plan(subscription, now), period_of(subscription, now))


def usage_totals(workspace_id: int, period_start: datetime) -> dict[str, int]:
    """Metered totals of one period, from the rollup (a few rows, whatever the ledger's size)."""
    rows = UsageTotal.objects.for_workspace(workspace_id).filter(period_start=period_start)
    totals = dict.fromkeys(Metric.values, 0)
    totals.update({metric: quantity for metric, quantity in rows.values_list("metric", "quantity")})
    return totals


def usage_total(workspace_id: int, metric: str, period_start: datetime) -> int:
    row = (
        UsageTotal.objects.for_workspace(workspace_id)
        .filter(metric=metric, period_start=period_start)
        .values_list("quantity", flat=True)
        .first()
    )
    return int(row or 0)


def reserved_runs(workspace_id: int, period_start: datetime) -> int:
    """Runs counted against the quota in the period: reserved (executing) plus consumed (completed)."""
    used = (
        QuotaCounter.objects.for_workspace(workspace_id)
        .filter(metric=Metric.REVIEW_RUN, period_start=period_start)
        .values_list("used", flat=True)
        .first()
    )
    return int(used or 0)


# Plan limit field for each metric the API reports against a limit.
LIMIT_FIELDS = {
    Metric.REVIEW_RUN: "review_runs_per_month",
    Metric.COMMAND: "commands_per_month",
    Metric.BRIEFING: "briefings_per_month",
    Metric.PLATFORM_AI_COST_MICROUSD: "ai_spend_cap_microusd",
}


def usage_overview(workspace_id: int, *, history: int = 6) -> dict[str, Any]:
    """Plan, subscription, current period, usage with limits and remaining quota, and past totals."""
    state = plan_state(workspace_id)
    totals = usage_totals(workspace_id, state.period.start)
    quota_used = dict(totals)
    # The run quota counts executing runs too (they hold a reservation), not only completed ones.
    quota_used[Metric.REVIEW_RUN] = max(reserved_runs(workspace_id, state.period.start), totals[Metric.REVIEW_RUN])
    metrics: dict[str, dict[str, Any]] = {}
    for metric in Metric.values:
        limit_field = LIMIT_FIELDS.get(metric)
        limit = getattr(state.plan, limit_field) if limit_field else None
        used = quota_used[metric]
        metrics[metric] = {
            "used": used,
            "recorded": totals[metric],
            "limit": limit,
            "remaining": None if limit is None else max(0, limit - used),
        }
    past = (
        UsageTotal.objects.for_workspace(workspace_id)
        .filter(period_start__lt=state.period.start)
        .order_by("-period_start")
        .values_list("period_start", "metric", "quantity")
    )
    periods: dict[datetime, dict[str, int]] = {}
    for period_start, metric, quantity in past:
        if period_start not in periods and len(periods) >= history:
            break
        periods.setdefault(period_start, {})[metric] = quantity
    sub = state.subscription
    return {
        "plan": state.plan.limits(),
        "subscription": {
            "plan": sub.plan if sub else plans.FREE,
            "status": sub.status if sub else SubscriptionStatus.ACTIVE,
            "effective_plan": state.plan.name,
            "current_period_start": sub.current_period_start if sub else None,
            "current_period_end": sub.current_period_end if sub else None,
            "cancel_at_period_end": sub.cancel_at_period_end if sub else False,
            "billed_by_stripe": bool(sub and sub.stripe_subscription_id),
        },
        "period": {"start": state.period.start, "end": state.period.end},
        "usage": metrics,
        "history": [{"period_start": start, "totals": values} for start, values in periods.items()],
    }
