"""Billing jobs. Each takes ids from its envelope and calls a service; the platform does the rest."""

from __future__ import annotations

from typing import Any

from billing import reconciler, webhooks
from queues.declaration import job
from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue


@job(
    queue=Queue.WEBHOOKS,
    retry=RetryPolicy.WEBHOOK,
    job_id="stripe-event:{stripe_event_id}",
    limit_concurrency=False,
    throttle=False,
)
def process_stripe_event(envelope: Envelope) -> str:
    """Apply one stored Stripe event (database only, no external calls)."""
    return webhooks.process_stripe_event(stripe_event_id=int(envelope.entity_ids["stripe_event_id"]))


# On `bulk` (rollups and backfills, 900 s timeout): it scans recent ledger rows, which grows with usage.
@job(queue=Queue.BULK, retry=RetryPolicy.DATABASE, limit_concurrency=False, throttle=False)
def reconcile_billing(envelope: Envelope) -> dict[str, Any]:
    """Daily (schedule `billing.reconcile_usage`): repair usage rollups of recent periods from the ledger."""
    return reconciler.reconcile(days=int(envelope.data.get("days", 40)))
