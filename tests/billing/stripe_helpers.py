"""Stripe envelopes from tests/fixtures/stripe, adjusted per test, signed as Stripe signs them
(HMAC-SHA256 over "<t>.<raw body>" with the endpoint secret; tests/fixtures/stripe/SIGNATURE.md)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"
WEBHOOK_SECRET = "whsec_test_secret"


def load_event(event_type: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "events" / f"{event_type}.json").read_text())


def load_object(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "objects" / f"{name}.json").read_text())


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={signature}"


def subscription_event(
    event_type: str,
    *,
    event_id: str,
    created: int,
    subscription_id: str,
    customer_id: str,
    status: str,
    price_id: str,
    period: tuple[int, int],
    workspace_id: int | None = None,
    cancel_at_period_end: bool = False,
) -> dict[str, Any]:
    """A `customer.subscription.*` envelope from the fixture with the state the test needs.

    Overridden (the fixture's values are placeholders, SOURCE.md "Caveats"): event `id`, `created`;
    object `id`, `customer`, `status`, `metadata`, `cancel_at_period_end`, `canceled_at`, the first
    item's `price.id` and `current_period_start/end`.
    """
    event = copy.deepcopy(load_event(event_type))
    event["id"] = event_id
    event["created"] = created
    obj = event["data"]["object"]
    obj["id"] = subscription_id
    obj["customer"] = customer_id
    obj["status"] = status
    obj["metadata"] = {"workspace_id": str(workspace_id)} if workspace_id else {}
    obj["cancel_at_period_end"] = cancel_at_period_end
    obj["canceled_at"] = created if status == "canceled" else None
    item = obj["items"]["data"][0]
    item["subscription"] = subscription_id
    item["price"]["id"] = price_id
    item["current_period_start"], item["current_period_end"] = period
    return event


def invoice_event(event_type: str, *, event_id: str, created: int, subscription_id: str, customer_id: str) -> dict[str, Any]:
    """An `invoice.*` envelope; overridden: event `id`, `created`, object `customer`, `subscription`
    and `parent.subscription_details.subscription`."""
    event = copy.deepcopy(load_event(event_type))
    event["id"] = event_id
    event["created"] = created
    obj = event["data"]["object"]
    obj["customer"] = customer_id
    obj["subscription"] = subscription_id
    obj["parent"] = {"type": "subscription_details", "subscription_details": {"metadata": {}, "subscription": subscription_id}}
    return event


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()
