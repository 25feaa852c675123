"""Writes of the billing domain: quota reservation, usage metering, limit checks, plan changes.

Contract (docs/billing.md): `Decision`, `reserve_review_run`, `release_review_run`,
`record_usage`, `reserve_command` (`check_command_allowed` only reads), `check_ai_allowed`,
`check_repository_enable_allowed`.
Enforcement runs in the worker right before execution, never in a webhook request.

Locking: the run quota is a counter row (`QuotaCounter`) locked with `SELECT ... FOR UPDATE`
for the reservation; no aggregate is ever locked (PostgreSQL refuses `FOR UPDATE` with
aggregates, the original's §11 item 1). Usage is an append-only ledger whose unique
idempotency key makes a duplicate a no-op; its rollup (`UsageTotal`) is bumped by an upsert in
the same SQL statement as the insert, only when a row was inserted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing import plans, policies
from billing.models import (
    Metric,
    QuotaCounter,
    ReservationStatus,
    RunReservation,
    Subscription,
    SubscriptionStatus,
    UsageRecord,
    UsageTotal,
)
from billing.policies import Decision
from billing.selectors import period_of, plan_state, subscription_for, usage_total
from billing.signals import quota_exhausted, subscription_changed, usage_recorded

log = structlog.get_logger(__name__)


def run_key_for(run_id: int) -> str:
    """The reservation key of review run `run_id` (the worker reserves with it; receivers release it)."""
    return f"review_run:{run_id}"


# --- Quota counters ----------------------------------------------------------------------------


def _lock_counter(workspace_id: int, metric: str, period_start: datetime) -> QuotaCounter:
    """The period's counter row for `metric`, created if missing, locked until the transaction ends."""
    if connection.vendor != "postgresql":
        # SQLite (`make run`): one worker, no concurrent insert to guard against.
        QuotaCounter.objects.get_or_create(workspace_id=workspace_id, metric=metric, period_start=period_start)
        return QuotaCounter.objects.select_for_update().get(
            workspace_id=workspace_id, metric=metric, period_start=period_start
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {QuotaCounter._meta.db_table} "  # noqa: S608 - table name from the model
            "(workspace_id, metric, period_start, used, denied, updated_at) "
            "VALUES (%s, %s, %s, 0, 0, now()) "
            "ON CONFLICT (workspace_id, metric, period_start) DO NOTHING",
            [workspace_id, metric, period_start],
        )
    return QuotaCounter.objects.select_for_update().get(
        workspace_id=workspace_id, metric=metric, period_start=period_start
    )


def _note_denial(counter: QuotaCounter, *, limit: int) -> None:
    """Count a refusal; the first in a period sends `quota_exhausted` once the transaction commits."""
    counter.denied += 1
    counter.save(update_fields=["denied", "updated_at"])
    if counter.denied == 1:
        workspace_id, metric, period_start = counter.workspace_id, counter.metric, counter.period_start
        transaction.on_commit(
            lambda: quota_exhausted.send(
                sender=QuotaCounter, workspace_id=workspace_id, metric=metric, limit=limit, period_start=period_start
            )
        )


# --- Review runs ---------------------------------------------------------------------------------


def reserve_review_run(*, workspace_id: int, repository_id: int | None, run_key: str) -> Decision:
    """Claim one run of the period's quota for `run_key`, atomically and idempotently.

    A second call with the same key (a retried job) answers allowed without counting again.
    Denials: `quota_exhausted` (the period's runs are used up), `repository_limit` (the repository
    is beyond the plan's repository count, e.g. after a downgrade). Holds the counter row's lock
    for the length of the (short) transaction only.
    """
    state = plan_state(workspace_id)
    plan, period = state.plan, state.period
    with transaction.atomic():
        # The counter lock comes first: it serialises every reservation of this workspace and
        # period, so two workers racing on one new run_key cannot both miss the other's row.
        counter = _lock_counter(workspace_id, Metric.REVIEW_RUN, period.start)
        existing = RunReservation.objects.select_for_update().filter(run_key=run_key).first()
        if existing is not None and existing.workspace_id != workspace_id:
            raise ValueError(f"run_key {run_key!r} belongs to another workspace")
        if existing is not None and existing.status != ReservationStatus.RELEASED:
            return Decision.allow("This run already holds a reservation.")

        repo_decision = policies.repository_decision(plan, workspace_id=workspace_id, repository_id=repository_id)
        if not repo_decision.allowed:
            return repo_decision

        limit = plan.review_runs_per_month
        if limit is not None and counter.used >= limit:
            _note_denial(counter, limit=limit)
            log.info("billing.quota_denied", workspace_id=workspace_id, metric="review_run", used=counter.used, limit=limit)
            return Decision.deny(
                policies.QUOTA_EXHAUSTED,
                f"Review run limit reached ({counter.used}/{limit}) on the {plan.title or plan.name} plan for the "
                f"period ending {period.end:%Y-%m-%d}. Upgrade the plan or wait for the next period.",
            )
        counter.used += 1
        counter.save(update_fields=["used", "updated_at"])
        if existing is not None:  # released before (the run was skipped) and now runs again
            existing.status = ReservationStatus.RESERVED
            existing.period_start = period.start
            existing.save(update_fields=["status", "period_start", "updated_at"])
        else:
            RunReservation.objects.create(
                workspace_id=workspace_id, run_key=run_key, repository_id=repository_id, period_start=period.start
            )
    remaining = "unlimited" if limit is None else f"{limit - counter.used} left"
    return Decision.allow(f"Reserved ({remaining} this period).")


def release_review_run(*, workspace_id: int, run_key: str) -> None:
    """Give a reserved run back to the quota (the run was skipped, failed or cancelled).

    A no-op for an unknown key, a released one, or a consumed (completed) one: completed runs count.
    """
    peek = (
        RunReservation.objects.filter(run_key=run_key, workspace_id=workspace_id, status=ReservationStatus.RESERVED)
        .values_list("period_start", flat=True)
        .first()
    )
    if peek is None:
        return
    with transaction.atomic():
        # Same lock order as reserve_review_run (counter, then reservation): no deadlock between them.
        counter = _lock_counter(workspace_id, Metric.REVIEW_RUN, peek)
        reservation = (
            RunReservation.objects.select_for_update()
            .filter(run_key=run_key, workspace_id=workspace_id, status=ReservationStatus.RESERVED)
            .first()
        )
        if reservation is None or reservation.period_start != peek:
            return
        counter.used = max(0, counter.used - 1)
        counter.save(update_fields=["used", "updated_at"])
        reservation.status = ReservationStatus.RELEASED
        reservation.save(update_fields=["status", "updated_at"])


def consume_review_run(*, workspace_id: int, run_key: str) -> None:
    """Mark a reservation as used by a completed run: it counts for good and can no longer be released."""
    RunReservation.objects.filter(
        run_key=run_key, workspace_id=workspace_id, status=ReservationStatus.RESERVED
    ).update(status=ReservationStatus.CONSUMED, updated_at=timezone.now())


# --- Usage ledger ------------------------------------------------------------------------------------


def record_usage(
    *,
    workspace_id: int,
    metric: str,
    quantity: int,
    idempotency_key: str,
    source: str = "",
    occurred_at: datetime | None = None,
) -> tuple[UsageRecord, bool]:
    """Append one usage record, once per `idempotency_key`. Returns (record, created).

    A duplicate key returns the stored record and `created=False` and changes nothing; two
    processes racing on one key produce one record (the unique index makes the second wait for
    the first's commit). `usage_recorded` is sent after commit for new records only.
    """
    if metric not in Metric.values:
        raise ValueError(f"unknown usage metric {metric!r}")
    if quantity < 0:
        raise ValueError("usage quantity must be >= 0")
    if not idempotency_key:
        raise ValueError("idempotency_key is required")
    occurred_at = occurred_at or timezone.now()
    period = period_of(subscription_for(workspace_id), occurred_at)
    source = source[:255]
    if connection.vendor != "postgresql":
        return _record_usage_portable(workspace_id, metric, quantity, idempotency_key, source, occurred_at, period.start)
    # One statement, atomic on its own: insert the ledger row unless the key exists, and bump the
    # period's rollup only when a row was inserted. A concurrent insert of the same key makes this
    # one wait for it to commit and then do nothing (or insert, if the other rolled back).
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, [workspace_id, metric, quantity, occurred_at, period.start, source, idempotency_key])
        row = cursor.fetchone()
    if row is None:
        existing = UsageRecord.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:  # lost to a concurrent insert that then rolled back: try once more
            return record_usage(
                workspace_id=workspace_id, metric=metric, quantity=quantity, idempotency_key=idempotency_key,
                source=source, occurred_at=occurred_at,
            )
        return existing, False
    record = UsageRecord(
        id=row[0], workspace_id=workspace_id, metric=metric, quantity=quantity, occurred_at=occurred_at,
        period_start=period.start, source=source, idempotency_key=idempotency_key, created_at=row[1],
    )
    record._state.adding = False
    record._state.db = "default"
    transaction.on_commit(lambda: usage_recorded.send(sender=UsageRecord, record=record))
    return record, True


def _record_usage_portable(
    workspace_id: int, metric: str, quantity: int, key: str, source: str, occurred_at: datetime, period_start: datetime
) -> tuple[UsageRecord, bool]:
    """The same effect through the ORM, for SQLite (`make run`: one process, no insert race)."""
    with transaction.atomic():
        existing = UsageRecord.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
        record = UsageRecord.objects.create(
            workspace_id=workspace_id, metric=metric, quantity=quantity, occurred_at=occurred_at,
            period_start=period_start, source=source, idempotency_key=key,
        )
        total, _ = UsageTotal.objects.get_or_create(workspace_id=workspace_id, metric=metric, period_start=period_start)
        UsageTotal.objects.filter(pk=total.pk).update(quantity=F("quantity") + quantity)
        transaction.on_commit(lambda: usage_recorded.send(sender=UsageRecord, record=record))
    return record, True


_RECORD_SQL = f"""
WITH ins AS (
    INSERT INTO {UsageRecord._meta.db_table}
        (workspace_id, metric, quantity, occurred_at, period_start, source, idempotency_key, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at, workspace_id, metric, period_start, quantity
), bump AS (
    INSERT INTO {UsageTotal._meta.db_table} (workspace_id, metric, period_start, quantity, updated_at)
    SELECT workspace_id, metric, period_start, quantity, now() FROM ins
    ON CONFLICT (workspace_id, metric, period_start)
    DO UPDATE SET quantity = {UsageTotal._meta.db_table}.quantity + EXCLUDED.quantity, updated_at = now()
)
SELECT id, created_at FROM ins
"""  # noqa: S608 - table names from the models, values bound


# --- Limit checks ----------------------------------------------------------------------------------


def _check_metered(workspace_id: int, metric: str, limit_field: str, noun: str) -> Decision:
    state = plan_state(workspace_id)
    limit = getattr(state.plan, limit_field)
    if limit is None:
        return Decision.allow()
    used = usage_total(workspace_id, metric, state.period.start)
    if used < limit:
        return Decision.allow(f"{limit - used} {noun} left this period.")
    with transaction.atomic():
        _note_denial(_lock_counter(workspace_id, metric, state.period.start), limit=limit)
    return Decision.deny(
        policies.QUOTA_EXHAUSTED,
        f"{noun.capitalize()} limit reached ({used}/{limit}) on the {state.plan.title or state.plan.name} plan "
        f"for the period ending {state.period.end:%Y-%m-%d}.",
    )


def check_command_allowed(*, workspace_id: int) -> Decision:
    """Whether one more `@sentinel` command may run this period (commands that ran are metered)."""
    return _check_metered(workspace_id, Metric.COMMAND, "commands_per_month", "commands")


def command_key_for(command_run_id: int) -> str:
    return f"command_run:{command_run_id}"


def reserve_command(*, workspace_id: int, command_run_id: int) -> Decision:
    """Claim one command of the period for `command_run_id`, atomically and idempotently.

    `check_command_allowed` only reads: two commands racing for the last one both passed, because
    a command is metered when it finishes. Here the claim is taken under the period's counter row
    lock (as review runs are): `used` is the larger of the claims and the ledger (which also holds
    commands metered before claims existed), and a claim is never given back, since a command
    that got this far runs and counts, completed or failed. A retried job finds its claim
    (`RunReservation` keyed `command_run:<id>`) and is allowed without counting twice.
    """
    state = plan_state(workspace_id)
    plan, period = state.plan, state.period
    limit = plan.commands_per_month
    if limit is None:
        return Decision.allow()
    key = command_key_for(command_run_id)
    with transaction.atomic():
        counter = _lock_counter(workspace_id, Metric.COMMAND, period.start)
        if RunReservation.objects.filter(run_key=key, workspace_id=workspace_id).exists():
            return Decision.allow("This command already holds its claim.")
        used = max(counter.used, usage_total(workspace_id, Metric.COMMAND, period.start))
        if used >= limit:
            _note_denial(counter, limit=limit)
            log.info("billing.quota_denied", workspace_id=workspace_id, metric="command", used=used, limit=limit)
            return Decision.deny(
                policies.QUOTA_EXHAUSTED,
                f"Commands limit reached ({used}/{limit}) on the {plan.title or plan.name} plan "
                f"for the period ending {period.end:%Y-%m-%d}.",
            )
        counter.used = used + 1
        counter.save(update_fields=["used", "updated_at"])
        RunReservation.objects.create(
            workspace_id=workspace_id, run_key=key, period_start=period.start, status=ReservationStatus.CONSUMED
        )
    return Decision.allow(f"{limit - used - 1} commands left this period.")


def check_briefing_allowed(*, workspace_id: int) -> Decision:
    """Whether one more briefing may be generated this period."""
    return _check_metered(workspace_id, Metric.BRIEFING, "briefings_per_month", "briefings")


def check_ai_allowed(*, workspace_id: int, provider: str, model: str, byok: bool) -> Decision:
    """Whether the plan allows this provider/model, with or without the workspace's own key, now.

    Denials: `provider_not_allowed`, `model_not_allowed`, `byok_required`, `spend_cap_reached`
    (the month's spend through Sentinel's platform keys reached the plan's cap; BYOK spend is the
    customer's own and never capped here).
    """
    state = plan_state(workspace_id)
    decision = policies.ai_decision(state.plan, provider=provider, model=model, byok=byok)
    if not decision.allowed or byok or provider == "offline":
        return decision
    cap = state.plan.ai_spend_cap_microusd
    if cap is None:
        return decision
    spent = usage_total(workspace_id, Metric.PLATFORM_AI_COST_MICROUSD, state.period.start)
    if spent >= cap:
        return Decision.deny(
            policies.SPEND_CAP_REACHED,
            f"The plan's monthly AI spend cap on Sentinel's keys is reached (${spent / plans.USD:.2f} of "
            f"${cap / plans.USD:.2f}). Add your own provider key or wait for the next period.",
        )
    return decision


def check_repository_enable_allowed(*, workspace_id: int) -> Decision:
    """Whether one more repository may be enabled for review on the current plan."""
    return policies.repository_enable_decision(plan_state(workspace_id).plan, workspace_id=workspace_id)


def check_seat_allowed(*, workspace_id: int) -> Decision:
    """Whether one more member may join the workspace on the current plan."""
    return policies.seat_decision(plan_state(workspace_id).plan, workspace_id=workspace_id)


# --- Subscriptions ------------------------------------------------------------------------------------


def snapshot(subscription: Subscription | None) -> tuple[str | None, str | None]:
    if subscription is None:
        return None, None
    return subscription.plan, subscription.status


def announce_change(subscription: Subscription, previous: tuple[str | None, str | None]) -> None:
    if (subscription.plan, subscription.status) == previous:
        return
    previous_plan, previous_status = previous
    log.info(
        "billing.subscription_changed",
        workspace_id=subscription.workspace_id,
        plan=subscription.plan,
        status=subscription.status,
        previous_plan=previous_plan,
        previous_status=previous_status,
    )
    transaction.on_commit(
        lambda: subscription_changed.send(
            sender=Subscription, subscription=subscription, previous_plan=previous_plan, previous_status=previous_status
        )
    )


def ensure_subscription(*, workspace_id: int, plan: str = plans.FREE) -> Subscription:
    """The workspace's subscription row, created on `plan` (active, billed outside Stripe) if missing."""
    plans.latest(plan)  # validates the name
    subscription, created = Subscription.objects.get_or_create(
        workspace_id=workspace_id,
        defaults={"plan": plan, "plan_version": plans.latest(plan).version, "status": SubscriptionStatus.ACTIVE},
    )
    if created:
        announce_change(subscription, (None, None))
    return subscription


@transaction.atomic
def change_plan(*, workspace_id: int, plan: str, status: str = SubscriptionStatus.ACTIVE, actor: Any = None) -> Subscription:
    """Set the workspace's plan by hand (operator, demo, enterprise contracts billed outside Stripe).

    Takes effect for new runs at once: the next `review_queue_for` and limit checks read it. A
    Stripe-billed subscription is overwritten again by Stripe's next event; change those in Stripe.
    """
    new_plan = plans.latest(plan)
    subscription = ensure_subscription(workspace_id=workspace_id)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    previous = snapshot(subscription)
    subscription.plan = new_plan.name
    subscription.plan_version = new_plan.version
    subscription.status = status
    subscription.save(update_fields=["plan", "plan_version", "status", "updated_at"])
    log.info("billing.plan_changed_by_hand", workspace_id=workspace_id, plan=plan, status=status, actor=str(actor or ""))
    announce_change(subscription, previous)
    return subscription
