"""Stripe webhooks: verify and store at intake, apply on the `webhooks` queue.

Intake (`receive_stripe_event`, called by the `/webhooks/stripe` view) checks the signature with
`stripe.Webhook.construct_event` over the raw body, stores the event once per Stripe event id and
dispatches `billing.jobs.process_stripe_event` after commit. Nothing is stored for a bad signature.

Processing (`process_stripe_event`) locks the event row, applies it at most once, and never lets
an older event roll a subscription back: every applied event stamps `Subscription.stripe_state_at`
with its `created` time, and an event created before that stamp is recorded as stale and skipped.
A canceled Stripe subscription is terminal in Stripe, so nothing but its own deletion touches a
row that is canceled on that same Stripe subscription id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import plans
from billing.models import StripeEvent, StripeEventStatus, Subscription, SubscriptionStatus
from billing.services import announce_change, ensure_subscription, snapshot
from queues.dispatch import dispatch
from workspaces.models import Workspace

log = structlog.get_logger(__name__)

# Stripe subscription status -> ours. Anything that is not paid-up loses the paid plan (the
# workspace falls back to the free allowance, never to nothing).
STATUS_MAP = {
    "trialing": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,
    "incomplete": SubscriptionStatus.PAST_DUE,
    "paused": SubscriptionStatus.PAST_DUE,
    "incomplete_expired": SubscriptionStatus.CANCELED,
    "canceled": SubscriptionStatus.CANCELED,
}
ACTIVE = {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING}


class StripeNotConfigured(Exception):
    """STRIPE_WEBHOOK_SECRET (or STRIPE_SECRET_KEY for API calls) is not set."""


class InvalidStripeSignature(Exception):
    """The Stripe-Signature header does not match the body (or is missing, or too old)."""


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None


def _verify(payload: bytes, signature: str, configured: str) -> None:
    """`stripe.Webhook.construct_event` against each configured secret (comma-separated, so an
    endpoint secret can be rolled without rejecting deliveries signed with the old one)."""
    error: Exception | None = None
    for secret in [part.strip() for part in configured.split(",") if part.strip()]:
        try:
            stripe.Webhook.construct_event(payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE)
            return
        except stripe.SignatureVerificationError as exc:
            error = exc
    raise error or stripe.SignatureVerificationError("no webhook secret", signature)


def receive_stripe_event(*, payload: bytes, signature: str) -> tuple[StripeEvent, bool]:
    """Verify, store once, queue. Returns (event, created). Raises InvalidStripeSignature."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    try:
        _verify(payload, signature, secret)
        data = json.loads(payload)
        event_id, event_type, created = str(data["id"]), str(data["type"]), _ts(data["created"])
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as exc:
        raise InvalidStripeSignature(str(exc)) from None
    with transaction.atomic():
        event, created_row = StripeEvent.objects.get_or_create(
            event_id=event_id,
            defaults={
                "type": event_type[:128],
                "api_version": str(data.get("api_version") or "")[:64],
                "livemode": bool(data.get("livemode")),
                "stripe_created_at": created,
                "payload": data,
            },
        )
        if created_row or event.status == StripeEventStatus.RECEIVED:
            # A repeat of a still-unprocessed event re-queues it: the deterministic job id makes
            # that a no-op while the job is known to Redis, and a rescue if Redis lost it.
            queue_processing(event)
    log.info("stripe.event_received", event_id=event_id, type=event_type, duplicate=not created_row)
    return event, created_row


def queue_processing(event: StripeEvent) -> str:
    from billing.jobs import process_stripe_event as job

    return dispatch(job, workspace_id=None, entity_ids={"stripe_event_id": event.pk})


# --- Processing ----------------------------------------------------------------------------------


class Outcome:
    def __init__(self, status: str, message: str, workspace_id: int | None = None) -> None:
        self.status, self.message, self.workspace_id = status, message, workspace_id


def process_stripe_event(*, stripe_event_id: int) -> str:
    """Apply one stored event, at most once. Returns the event's final status."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=stripe_event_id).first()
        if event is None:
            return "missing"
        if event.status != StripeEventStatus.RECEIVED:
            return event.status  # already applied: a duplicate job or a replay
        handler = HANDLERS.get(event.type)
        if handler is None:
            outcome = Outcome(StripeEventStatus.IGNORED, f"unhandled event type {event.type}")
        else:
            outcome = handler(event, event.payload.get("data", {}).get("object") or {})
        event.status = outcome.status
        event.outcome = outcome.message[:500]
        event.workspace_id = outcome.workspace_id
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "outcome", "workspace", "processed_at"])
    log.info("stripe.event_processed", event_id=event.event_id, type=event.type, status=event.status, outcome=event.outcome)
    return event.status


def _find_subscription(*, subscription_id: str = "", customer_id: str = "", workspace_id: Any = None) -> Subscription | None:
    """The local row for a Stripe object: by subscription id, customer id, then our metadata."""
    queryset = Subscription.objects.select_for_update()
    if subscription_id:
        found = queryset.filter(stripe_subscription_id=subscription_id).first()
        if found:
            return found
    if customer_id:
        found = queryset.filter(stripe_customer_id=customer_id).first()
        if found:
            return found
    if workspace_id not in (None, ""):
        try:
            workspace_pk = int(workspace_id)
        except (TypeError, ValueError):
            return None
        if not Workspace.objects.filter(pk=workspace_pk).exists():
            return None
        # A workspace from before billing existed has no row yet: it is on free until now.
        ensure_subscription(workspace_id=workspace_pk)
        return queryset.filter(workspace_id=workspace_pk).first()
    return None


def plan_for_stripe_subscription(obj: dict[str, Any]) -> tuple[str | None, str]:
    """(plan name, price id) of a Stripe subscription: configured price ids first, then our own
    `metadata.plan` (set at Checkout), then a price `lookup_key` equal to a plan name."""
    items = (obj.get("items") or {}).get("data") or []
    price = (items[0].get("price") or {}) if items else {}
    price_id = str(price.get("id") or "")
    by_price = {v: k for k, v in getattr(settings, "BILLING_STRIPE_PRICES", {}).items() if v}
    if price_id in by_price:
        return by_price[price_id], price_id
    meta_plan = (obj.get("metadata") or {}).get("plan")
    if meta_plan in plans.PLAN_NAMES:
        return meta_plan, price_id
    lookup = price.get("lookup_key")
    if lookup in plans.PLAN_NAMES:
        return lookup, price_id
    return None, price_id


def _period(obj: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    # Since API 2025-03-31 the period lives on the subscription items; older versions have it on top.
    items = (obj.get("items") or {}).get("data") or []
    source = items[0] if items and items[0].get("current_period_end") else obj
    return _ts(source.get("current_period_start")), _ts(source.get("current_period_end"))


def _is_stale(subscription: Subscription, event: StripeEvent) -> bool:
    return subscription.stripe_state_at is not None and event.stripe_created_at < subscription.stripe_state_at


def _on_subscription(event: StripeEvent, obj: dict[str, Any]) -> Outcome:
    sub_id = str(obj.get("id") or "")
    deleted = event.type == "customer.subscription.deleted"
    subscription = _find_subscription(
        subscription_id=sub_id,
        customer_id=str(obj.get("customer") or ""),
        workspace_id=(obj.get("metadata") or {}).get("workspace_id"),
    )
    if subscription is None:
        return Outcome(StripeEventStatus.IGNORED, f"no workspace for subscription {sub_id}")
    ws = subscription.workspace_id
    same = subscription.stripe_subscription_id == sub_id
    status = SubscriptionStatus.CANCELED if deleted else STATUS_MAP.get(str(obj.get("status")), SubscriptionStatus.PAST_DUE)
    if same and _is_stale(subscription, event):
        return Outcome(StripeEventStatus.IGNORED, f"stale: created before the state applied at {subscription.stripe_state_at:%Y-%m-%dT%H:%M:%SZ}", ws)
    if same and subscription.status == SubscriptionStatus.CANCELED and subscription.stripe_state_at and not deleted:
        return Outcome(StripeEventStatus.IGNORED, "subscription already canceled in Stripe (terminal)", ws)
    if not same and subscription.stripe_subscription_id and subscription.status in ACTIVE and status not in ACTIVE:
        # An old Stripe subscription of this workspace ended; the current one stays in force.
        return Outcome(StripeEventStatus.IGNORED, f"not the workspace's current subscription ({subscription.stripe_subscription_id})", ws)

    plan_name, price_id = plan_for_stripe_subscription(obj)
    if plan_name is None and not deleted:
        return Outcome(StripeEventStatus.FAILED, f"price {price_id!r} maps to no plan (set STRIPE_PRICE_<PLAN>)", ws)
    previous = snapshot(subscription)
    start, end = _period(obj)
    if plan_name and plan_name != subscription.plan:
        subscription.plan = plan_name
        subscription.plan_version = plans.latest(plan_name).version
    subscription.status = status
    subscription.stripe_subscription_id = sub_id
    subscription.stripe_customer_id = str(obj.get("customer") or subscription.stripe_customer_id)
    subscription.stripe_price_id = price_id or subscription.stripe_price_id
    if start and end:
        subscription.current_period_start, subscription.current_period_end = start, end
    subscription.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    subscription.canceled_at = _ts(obj.get("canceled_at")) if (deleted or obj.get("canceled_at")) else None
    subscription.stripe_state_at = event.stripe_created_at
    subscription.save()
    announce_change(subscription, previous)
    return Outcome(StripeEventStatus.PROCESSED, f"{subscription.plan}/{subscription.status}", ws)


def _invoice_subscription_id(obj: dict[str, Any]) -> str:
    direct = obj.get("subscription")
    if isinstance(direct, str) and direct.startswith("sub_"):
        return direct
    details = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    return details if isinstance(details, str) and details.startswith("sub_") else ""


def _on_invoice(event: StripeEvent, obj: dict[str, Any]) -> Outcome:
    subscription = _find_subscription(
        subscription_id=_invoice_subscription_id(obj), customer_id=str(obj.get("customer") or "")
    )
    if subscription is None or not subscription.stripe_subscription_id:
        return Outcome(StripeEventStatus.IGNORED, "no Stripe subscription for this invoice")
    ws = subscription.workspace_id
    if _is_stale(subscription, event):
        return Outcome(StripeEventStatus.IGNORED, "stale: a newer state is applied", ws)
    previous = snapshot(subscription)
    if event.type == "invoice.paid" and subscription.status == SubscriptionStatus.PAST_DUE:
        subscription.status = SubscriptionStatus.ACTIVE
    elif event.type == "invoice.payment_failed" and subscription.status in ACTIVE:
        subscription.status = SubscriptionStatus.PAST_DUE
    else:
        return Outcome(StripeEventStatus.PROCESSED, f"no change ({subscription.status})", ws)
    subscription.stripe_state_at = event.stripe_created_at
    subscription.save(update_fields=["status", "stripe_state_at", "updated_at"])
    announce_change(subscription, previous)
    return Outcome(StripeEventStatus.PROCESSED, f"{subscription.plan}/{subscription.status}", ws)


def _on_checkout_completed(event: StripeEvent, obj: dict[str, Any]) -> Outcome:
    """Link the Stripe customer to the workspace Checkout was opened for (client_reference_id)."""
    subscription = _find_subscription(
        customer_id=str(obj.get("customer") or ""), workspace_id=obj.get("client_reference_id")
    )
    if subscription is None:
        return Outcome(StripeEventStatus.IGNORED, "no workspace for this checkout session")
    customer = obj.get("customer")
    if customer and not subscription.stripe_customer_id:
        subscription.stripe_customer_id = str(customer)
        subscription.save(update_fields=["stripe_customer_id", "updated_at"])
    return Outcome(StripeEventStatus.PROCESSED, "checkout linked", subscription.workspace_id)


HANDLERS: dict[str, Callable[[StripeEvent, dict[str, Any]], Outcome]] = {
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "invoice.paid": _on_invoice,
    "invoice.payment_failed": _on_invoice,
    "checkout.session.completed": _on_checkout_completed,
}


def retry_event(event: StripeEvent) -> str:
    """Put a failed (or never applied) event back to `received` and queue it (operator action)."""
    StripeEvent.objects.filter(pk=event.pk, status__in=[StripeEventStatus.RECEIVED, StripeEventStatus.FAILED]).update(
        status=StripeEventStatus.RECEIVED, outcome="", processed_at=None
    )
    return queue_processing(event)


def unapplied_events() -> Any:
    """Events stored over a minute ago and still not applied: the job platform's reconciler
    re-dispatches those whose job Redis no longer knows."""
    cutoff = timezone.now() - timedelta(seconds=60)
    return StripeEvent.objects.filter(status=StripeEventStatus.RECEIVED, received_at__lt=cutoff).order_by("pk")


def processing_job_id(event: StripeEvent) -> str:
    from billing.jobs import process_stripe_event as job
    from queues.dispatch import build_job_id

    return build_job_id(job.spec, {"stripe_event_id": event.pk})
