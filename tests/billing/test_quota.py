"""Run quota: reserve/release at the boundary, periods, downgrades and the review queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from freezegun import freeze_time

from billing import plans, selectors, services
from billing.models import QuotaCounter, ReservationStatus, RunReservation, Subscription
from billing.signals import quota_exhausted
from queues.topology import Queue
from tests.billing.factories import stripe_billed, workspace_on

pytestmark = pytest.mark.django_db


def _reserve(workspace, n: int, start: int = 0) -> list[services.Decision]:
    return [
        services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key=f"review_run:{workspace.pk}-{i}")
        for i in range(start, start + n)
    ]


def test_new_workspace_is_on_free_with_its_subscription_row() -> None:
    workspace = workspace_on("free")
    assert Subscription.objects.get(workspace=workspace).plan == "free"
    plan = selectors.plan_for(workspace.pk)
    assert plan.name == "free" and plan.review_runs_per_month == 20
    assert selectors.review_queue_for(workspace.pk) is Queue.REVIEWS_DEFAULT


def test_workspace_without_subscription_row_is_free() -> None:
    workspace = workspace_on("free")
    Subscription.objects.filter(workspace=workspace).delete()
    assert selectors.plan_for(workspace.pk) == plans.free()


@freeze_time("2026-03-15 12:00:00")
def test_last_allowed_run_passes_next_is_denied_with_quota_exhausted(django_capture_on_commit_callbacks) -> None:
    workspace = workspace_on("free")
    limit = plans.free().review_runs_per_month
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    quota_exhausted.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            decisions = _reserve(workspace, limit)
            assert all(d.allowed for d in decisions)
            assert decisions[-1].reason is None  # the last allowed run passes
            denied = _reserve(workspace, 1, start=limit)[0]
            again = _reserve(workspace, 1, start=limit + 1)[0]
    finally:
        quota_exhausted.disconnect(listener)
    assert not denied.allowed
    assert denied.reason == "quota_exhausted"
    assert f"{limit}/{limit}" in denied.message
    assert again.reason == "quota_exhausted"
    # Signalled once per period, with the contract's kwargs.
    assert len(received) == 1
    assert received[0]["workspace_id"] == workspace.pk and received[0]["metric"] == "review_run"
    assert received[0]["limit"] == limit
    assert received[0]["period_start"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert RunReservation.objects.filter(workspace=workspace).count() == limit


def test_retried_reservation_does_not_count_twice() -> None:
    workspace = workspace_on("free")
    first = services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key="review_run:1")
    second = services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key="review_run:1")
    assert first.allowed and second.allowed
    counter = QuotaCounter.objects.get(workspace=workspace, metric="review_run")
    assert counter.used == 1


def test_released_runs_never_count() -> None:
    workspace = workspace_on("free")
    limit = plans.free().review_runs_per_month
    _reserve(workspace, limit)
    assert not _reserve(workspace, 1, start=limit)[0].allowed
    services.release_review_run(workspace_id=workspace.pk, run_key=f"review_run:{workspace.pk}-0")
    services.release_review_run(workspace_id=workspace.pk, run_key=f"review_run:{workspace.pk}-0")  # idempotent
    assert RunReservation.objects.get(run_key=f"review_run:{workspace.pk}-0").status == ReservationStatus.RELEASED
    assert _reserve(workspace, 1, start=limit + 5)[0].allowed
    assert not _reserve(workspace, 1, start=limit + 6)[0].allowed


def test_a_new_calendar_period_resets_the_free_quota() -> None:
    workspace = workspace_on("free")
    limit = plans.free().review_runs_per_month
    with freeze_time("2026-03-31 23:59:00"):
        _reserve(workspace, limit)
        assert _reserve(workspace, 1, start=limit)[0].reason == "quota_exhausted"
    with freeze_time("2026-04-01 00:00:01"):
        assert _reserve(workspace, 1, start=limit + 1)[0].allowed
        assert selectors.usage_overview(workspace.pk)["usage"]["review_run"]["used"] == 1


def test_a_new_stripe_period_resets_the_paid_quota() -> None:
    workspace = workspace_on("free")
    start = datetime(2026, 3, 10, tzinfo=UTC)
    stripe_billed(workspace, plan="pro", start=start, end=start + timedelta(days=31))
    limit = plans.latest("pro").review_runs_per_month
    with freeze_time("2026-03-20"):
        # Fill the counter directly: 500 reservations one by one would only slow the test down.
        services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key="review_run:p0")
        QuotaCounter.objects.filter(workspace=workspace, metric="review_run").update(used=limit)
        assert _reserve(workspace, 1, start=1)[0].reason == "quota_exhausted"
    # Stripe renewed: the subscription's period moved on.
    Subscription.objects.filter(workspace=workspace).update(
        current_period_start=start + timedelta(days=31), current_period_end=start + timedelta(days=61)
    )
    with freeze_time("2026-04-12"):
        assert _reserve(workspace, 1, start=2)[0].allowed


def test_downgrade_moves_new_runs_to_the_lower_tier_queue_and_limits() -> None:
    workspace = workspace_on("enterprise")
    assert selectors.review_queue_for(workspace.pk) is Queue.REVIEWS_ENTERPRISE
    assert _reserve(workspace, 1)[0].allowed
    services.change_plan(workspace_id=workspace.pk, plan="team")
    assert selectors.review_queue_for(workspace.pk) is Queue.REVIEWS_PAID
    services.change_plan(workspace_id=workspace.pk, plan="free")
    assert selectors.review_queue_for(workspace.pk) is Queue.REVIEWS_DEFAULT
    assert selectors.max_concurrent_reviews(workspace_id=workspace.pk, queue=Queue.REVIEWS_DEFAULT) == 1


@pytest.mark.parametrize("status", ["canceled", "past_due"])
def test_lapsed_paid_plan_falls_back_to_the_free_allowance(status: str) -> None:
    workspace = workspace_on("free")
    now = datetime.now(UTC)
    stripe_billed(workspace, plan="team", start=now - timedelta(days=3), end=now + timedelta(days=27), status=status)
    plan = selectors.plan_for(workspace.pk)
    assert plan.name == "free"
    assert selectors.review_queue_for(workspace.pk) is Queue.REVIEWS_DEFAULT
    assert _reserve(workspace, 1)[0].allowed  # the free allowance, not a block


def test_paid_plan_past_its_period_beyond_grace_falls_back_to_free() -> None:
    workspace = workspace_on("free")
    now = datetime.now(UTC)
    stripe_billed(workspace, plan="pro", start=now - timedelta(days=40), end=now - timedelta(days=9))
    assert selectors.plan_for(workspace.pk).name == "free"


def test_quota_check_takes_a_row_lock_not_an_aggregate_lock() -> None:
    """The original's §11 item 1: FOR UPDATE with an aggregate fails on PostgreSQL."""
    workspace = workspace_on("free")
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _reserve(workspace, 1)
    locking = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert locking
    assert not any("COUNT(" in sql.upper() or "SUM(" in sql.upper() for sql in locking)


def test_concurrency_resolver_is_billing_and_delegates_other_queues(settings) -> None:
    from queues.concurrency import resolve_concurrency

    assert settings.SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER == "billing.selectors.max_concurrent_reviews"
    workspace = workspace_on("pro")
    assert resolve_concurrency(workspace_id=workspace.pk, queue=Queue.REVIEWS_PAID) == 3
    settings.SENTINEL_WORKSPACE_CONCURRENCY = 7
    assert resolve_concurrency(workspace_id=workspace.pk, queue=Queue.COMMANDS) == 7
    enterprise = workspace_on("enterprise")
    assert resolve_concurrency(workspace_id=enterprise.pk, queue=Queue.REVIEWS_ENTERPRISE) == 20
