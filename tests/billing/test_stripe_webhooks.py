"""/webhooks/stripe: signature, storage once per event id, processing on the webhooks queue,
duplicates and out-of-order deliveries. Jobs run through the real worker code (queues.testing.drain)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import stripe
from django.test import Client

from billing import selectors
from billing.models import StripeEvent, StripeEventStatus, Subscription
from billing.signals import subscription_changed
from queues.connection import get_rq_queue
from queues.testing import drain
from queues.topology import Queue
from tests.billing.conftest import PRICES
from tests.billing.factories import workspace_on
from tests.billing.stripe_helpers import (
    FIXTURES,
    WEBHOOK_SECRET,
    body_of,
    invoice_event,
    load_event,
    sign,
    subscription_event,
)

pytestmark = pytest.mark.usefixtures("stripe_settings", "redis_conn")
# Tests that run the queued job need committed data (the worker code closes non-autocommit
# connections); the others stay in a rolled-back transaction, which is much faster.
queued = pytest.mark.django_db(transaction=True)
fast = pytest.mark.django_db

URL = "/webhooks/stripe"
P1 = (1_780_000_000, 1_782_678_400)  # a period: start, end (unix seconds)


def post(body: bytes, signature: str | None) -> object:
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return Client().post(URL, data=body, content_type="application/json", **headers)


def webhooks_queue_depth() -> int:
    return get_rq_queue(Queue.WEBHOOKS).count


def linked_workspace(customer: str = "cus_QXg1o8vcGmoR32"):
    workspace = workspace_on("free")
    Subscription.objects.filter(workspace=workspace).update(stripe_customer_id=customer)
    return workspace


def deliver(event: dict) -> object:
    body = body_of(event)
    return post(body, sign(body))


def apply_stored() -> None:
    """Apply stored events in the test's transaction (what the queued job does, minus the queue)."""
    from billing.webhooks import process_stripe_event

    for pk in StripeEvent.objects.filter(status=StripeEventStatus.RECEIVED).values_list("pk", flat=True):
        process_stripe_event(stripe_event_id=pk)


@fast
def test_worked_example_signature_from_the_fixture_notes_verifies() -> None:
    """Our signing helper reproduces SIGNATURE.md's header; the SDK accepts it (no tolerance)."""
    body = (FIXTURES / "events" / "customer.subscription.updated.json").read_bytes()
    header = sign(body, timestamp=1700000000)
    assert header == "t=1700000000,v1=523738bbd519e6adc41d26cd7834e466e855b220107be9ffe190c73122f1cc21"
    assert stripe.WebhookSignature.verify_header(body.decode(), header, WEBHOOK_SECRET, tolerance=None)


@fast
@pytest.mark.parametrize(
    "case",
    ["missing header", "wrong secret", "tampered body", "expired timestamp", "garbage header"],
)
def test_bad_signature_answers_400_and_stores_nothing(case: str) -> None:
    body = (FIXTURES / "events" / "customer.subscription.updated.json").read_bytes()
    signature = {
        "missing header": None,
        "wrong secret": sign(body, secret="whsec_other"),
        "tampered body": sign(body),
        "expired timestamp": sign(body, timestamp=1700000000),  # the real fixture time, long past
        "garbage header": "nonsense",
    }[case]
    if case == "tampered body":
        body = body.replace(b'"active"', b'"canceled"', 1)
    response = post(body, signature)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert StripeEvent.objects.count() == 0
    assert webhooks_queue_depth() == 0


@fast
def test_a_rolled_secret_accepts_both_while_configured(settings) -> None:
    settings.STRIPE_WEBHOOK_SECRET = f"whsec_new_one, {WEBHOOK_SECRET}"
    body = (FIXTURES / "events" / "invoice.paid.json").read_bytes()
    assert post(body, sign(body, secret="whsec_new_one")).status_code == 200
    assert post(body, sign(body)).status_code == 200  # the old secret, still listed
    assert post(body, sign(body, secret="whsec_unknown")).status_code == 400
    assert StripeEvent.objects.count() == 1


@fast
def test_unconfigured_secret_answers_503_and_stores_nothing(settings) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = (FIXTURES / "events" / "invoice.paid.json").read_bytes()
    assert post(body, sign(body)).status_code == 503
    assert StripeEvent.objects.count() == 0


@queued
def test_verified_fixture_event_is_stored_and_queued_on_webhooks() -> None:
    body = (FIXTURES / "events" / "customer.subscription.updated.json").read_bytes()  # byte-exact fixture
    response = post(body, sign(body))
    assert response.status_code == 200
    event = StripeEvent.objects.get()
    assert event.event_id == "evt_1Pgc76B7WZ01zgkWH3ZPh2BE"
    assert event.type == "customer.subscription.updated"
    assert event.status == StripeEventStatus.RECEIVED
    assert webhooks_queue_depth() == 1
    assert get_rq_queue(Queue.WEBHOOKS).job_ids == [f"stripe-event-{event.pk}"]


@queued
def test_subscription_created_moves_the_workspace_to_the_paid_plan_and_its_queue() -> None:
    workspace = linked_workspace()
    event = subscription_event(
        "customer.subscription.created", event_id="evt_created_1", created=1_780_000_100,
        subscription_id="sub_A", customer_id="cus_QXg1o8vcGmoR32", status="active",
        price_id=PRICES["team"], period=(int(datetime.now(UTC).timestamp()) - 3600, int(datetime.now(UTC).timestamp()) + 86400 * 29),
    )
    assert deliver(event).status_code == 200
    drain([Queue.WEBHOOKS])
    sub = Subscription.objects.get(workspace=workspace)
    assert (sub.plan, sub.status, sub.stripe_subscription_id) == ("team", "active", "sub_A")
    assert selectors.review_queue_for(workspace.pk) is Queue.REVIEWS_PAID
    assert StripeEvent.objects.get(event_id="evt_created_1").status == StripeEventStatus.PROCESSED


@queued
def test_duplicated_event_is_stored_once_and_processed_once() -> None:
    workspace = linked_workspace()
    now = int(datetime.now(UTC).timestamp())
    event = subscription_event(
        "customer.subscription.created", event_id="evt_dup", created=now - 10, subscription_id="sub_D",
        customer_id="cus_QXg1o8vcGmoR32", status="active", price_id=PRICES["pro"], period=(now - 60, now + 86400 * 30),
    )
    changes: list[dict] = []

    def listener(sender, **kwargs):
        changes.append(kwargs)

    subscription_changed.connect(listener)
    try:
        first = deliver(event)
        second = deliver(event)  # Stripe retries a delivery it thinks failed
        drain([Queue.WEBHOOKS])
        third = deliver(event)  # and again after processing
        drain([Queue.WEBHOOKS])
    finally:
        subscription_changed.disconnect(listener)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in (first, second, third)] == [False, True, True]
    assert StripeEvent.objects.filter(event_id="evt_dup").count() == 1
    assert len(changes) == 1 and changes[0]["previous_plan"] == "free"
    assert Subscription.objects.get(workspace=workspace).plan == "pro"
    # Applying the stored event again (a replayed job) changes nothing either.
    from billing.webhooks import process_stripe_event

    assert process_stripe_event(stripe_event_id=StripeEvent.objects.get().pk) == StripeEventStatus.PROCESSED
    assert len(changes) == 1


@queued
def test_out_of_order_updated_events_never_roll_the_subscription_back() -> None:
    workspace = linked_workspace()
    now = int(datetime.now(UTC).timestamp())
    period = (now - 60, now + 86400 * 30)
    common = {"subscription_id": "sub_O", "customer_id": "cus_QXg1o8vcGmoR32", "period": period}
    created = subscription_event("customer.subscription.created", event_id="evt_o1", created=now - 300,
                                 status="trialing", price_id=PRICES["pro"], **common)
    upgraded = subscription_event("customer.subscription.updated", event_id="evt_o3", created=now - 100,
                                  status="active", price_id=PRICES["team"], **common)
    older = subscription_event("customer.subscription.updated", event_id="evt_o2", created=now - 200,
                               status="past_due", price_id=PRICES["pro"], **common)
    for event in (created, upgraded):
        deliver(event)
        drain([Queue.WEBHOOKS])
    deliver(older)  # arrives last, but happened before `upgraded`
    drain([Queue.WEBHOOKS])
    sub = Subscription.objects.get(workspace=workspace)
    assert (sub.plan, sub.status) == ("team", "active")
    stale = StripeEvent.objects.get(event_id="evt_o2")
    assert stale.status == StripeEventStatus.IGNORED and "stale" in stale.outcome

    deleted = subscription_event("customer.subscription.deleted", event_id="evt_o5", created=now - 10,
                                 status="canceled", price_id=PRICES["team"], **common)
    late_update = subscription_event("customer.subscription.updated", event_id="evt_o4", created=now - 50,
                                     status="active", price_id=PRICES["enterprise"], **common)
    deliver(deleted)
    drain([Queue.WEBHOOKS])
    deliver(late_update)
    drain([Queue.WEBHOOKS])
    sub.refresh_from_db()
    assert sub.status == "canceled" and sub.plan == "team"
    assert selectors.plan_for(workspace.pk).name == "free"  # canceled: the free allowance, not a block


@queued
def test_payment_failed_then_paid_moves_between_past_due_and_active() -> None:
    workspace = linked_workspace()
    now = int(datetime.now(UTC).timestamp())
    deliver(subscription_event(
        "customer.subscription.created", event_id="evt_p1", created=now - 300, subscription_id="sub_P",
        customer_id="cus_QXg1o8vcGmoR32", status="active", price_id=PRICES["pro"], period=(now - 60, now + 86400 * 30),
    ))
    drain([Queue.WEBHOOKS])
    deliver(invoice_event("invoice.payment_failed", event_id="evt_p2", created=now - 200, subscription_id="sub_P",
                          customer_id="cus_QXg1o8vcGmoR32"))
    drain([Queue.WEBHOOKS])
    assert Subscription.objects.get(workspace=workspace).status == "past_due"
    assert selectors.plan_for(workspace.pk).name == "free"
    deliver(invoice_event("invoice.paid", event_id="evt_p3", created=now - 100, subscription_id="sub_P",
                          customer_id="cus_QXg1o8vcGmoR32"))
    drain([Queue.WEBHOOKS])
    assert Subscription.objects.get(workspace=workspace).status == "active"
    assert selectors.plan_for(workspace.pk).name == "pro"


@fast
def test_event_for_an_unknown_customer_is_recorded_as_ignored() -> None:
    body = (FIXTURES / "events" / "invoice.paid.json").read_bytes()
    post(body, sign(body))
    apply_stored()
    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.IGNORED


@fast
def test_unmapped_price_fails_visibly_without_changing_the_plan() -> None:
    workspace = linked_workspace()
    now = int(datetime.now(UTC).timestamp())
    deliver(subscription_event(
        "customer.subscription.created", event_id="evt_u1", created=now, subscription_id="sub_U",
        customer_id="cus_QXg1o8vcGmoR32", status="active", price_id="price_unknown", period=(now - 60, now + 86400),
    ))
    apply_stored()
    event = StripeEvent.objects.get(event_id="evt_u1")
    assert event.status == StripeEventStatus.FAILED and "price_unknown" in event.outcome
    assert Subscription.objects.get(workspace=workspace).plan == "free"


@fast
def test_checkout_completed_links_the_customer_by_client_reference_id() -> None:
    workspace = workspace_on("free")
    Subscription.objects.filter(workspace=workspace).delete()  # a workspace from before billing
    event = load_event("checkout.session.completed")
    event["id"] = "evt_checkout"
    # Fixture caveat: the sample session has customer null; a real completed one carries it.
    event["data"]["object"].update({"customer": "cus_new", "client_reference_id": str(workspace.pk)})
    deliver(event)
    apply_stored()
    assert Subscription.objects.get(workspace=workspace).stripe_customer_id == "cus_new"
    stored = StripeEvent.objects.get(event_id="evt_checkout")
    assert stored.workspace_id == workspace.pk
    assert json.dumps(stored.payload)  # the verified body is kept for operators


@queued
def test_stripe_downgrade_sends_new_runs_to_the_lower_tier_queue() -> None:
    from reviews.services import create_run
    from tests.reviews.factories import make_repository

    workspace = linked_workspace()
    repository = make_repository(workspace)
    now = int(datetime.now(UTC).timestamp())
    common = {"subscription_id": "sub_Q", "customer_id": "cus_QXg1o8vcGmoR32", "period": (now - 60, now + 86400 * 30)}
    deliver(subscription_event("customer.subscription.created", event_id="evt_q1", created=now - 100,
                               status="active", price_id=PRICES["enterprise"], **common))
    drain([Queue.WEBHOOKS])
    first = create_run(repository=repository, pr_number=1, base_sha="a" * 40, head_sha="b" * 40, trigger="api")
    assert first.queue == "reviews-enterprise"
    assert first.pk and get_rq_queue(Queue.REVIEWS_ENTERPRISE).count == 1

    deliver(subscription_event("customer.subscription.updated", event_id="evt_q2", created=now - 50,
                               status="active", price_id=PRICES["pro"], **common))
    drain([Queue.WEBHOOKS])
    second = create_run(repository=repository, pr_number=2, base_sha="a" * 40, head_sha="c" * 40, trigger="api")
    assert second.queue == "reviews-paid"
    assert get_rq_queue(Queue.REVIEWS_PAID).count == 1
    assert selectors.max_concurrent_reviews(workspace_id=workspace.pk, queue=Queue.REVIEWS_PAID) == 3
