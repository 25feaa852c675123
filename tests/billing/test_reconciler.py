"""Billing's repair work: the daily rollup reconciliation (a declared schedule) and the Stripe
events whose job Redis lost (the job platform's reconciler)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import reconciler, selectors, services
from billing.jobs import reconcile_billing
from billing.models import StripeEvent, UsageTotal
from queues import reconciler as queues_reconciler
from queues.connection import get_rq_queue
from queues.dispatch import dispatch
from queues.testing import drain
from queues.topology import Queue
from tests.billing.factories import workspace_on

pytestmark = pytest.mark.django_db(transaction=True)


def test_reconciler_repairs_drifted_rollups_and_requeues_lost_events(redis_conn) -> None:
    workspace = workspace_on("pro")
    for i in range(3):
        services.record_usage(workspace_id=workspace.pk, metric="output_tokens", quantity=10, idempotency_key=f"o:{i}")
    period = selectors.current_period(workspace.pk).start
    services.record_usage(workspace_id=workspace.pk, metric="input_tokens", quantity=7, idempotency_key="i:1")
    UsageTotal.objects.filter(workspace=workspace, metric="output_tokens").update(quantity=999)  # drift
    UsageTotal.objects.filter(workspace=workspace, metric="input_tokens").delete()  # a lost row
    lost = StripeEvent.objects.create(
        event_id="evt_lost", type="invoice.paid", stripe_created_at=timezone.now(), payload={"data": {"object": {}}}
    )
    StripeEvent.objects.filter(pk=lost.pk).update(received_at=timezone.now() - timedelta(hours=1))
    dispatch(reconcile_billing, workspace_id=None, entity_ids={})
    drain([Queue.BULK])
    assert selectors.usage_total(workspace.pk, "output_tokens", period) == 30
    assert selectors.usage_total(workspace.pk, "input_tokens", period) == 7

    counts = queues_reconciler.run()
    assert counts["sources"]["billing.stripe_events"]["redispatched"] == 1
    assert get_rq_queue(Queue.WEBHOOKS).job_ids == [f"stripe-event-{lost.pk}"]
    drain([Queue.WEBHOOKS])
    lost.refresh_from_db()
    assert lost.status == "ignored"
    assert reconciler.reconcile_usage_totals() == 0  # nothing left to fix


def test_daily_usage_reconciliation_is_a_declared_schedule() -> None:
    from queues.schedules import declared_schedules

    schedule = declared_schedules()["billing.reconcile_usage"]
    assert schedule.job == "billing.jobs.reconcile_billing" and schedule.cron == "17 3 * * *"
