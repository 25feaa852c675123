"""`POST /webhooks/github` through the real view, PostgreSQL and Redis (DESIGN.md, Flows)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from integrations.github import signatures
from integrations.models import DeliveryStatus, Installation, WebhookDelivery
from queues.connection import get_rq_queue
from queues.testing import drain
from queues.topology import Queue
from tests.integrations.conftest import FIXTURES, payload

# Tests that only look at the answer and the rows run in a rolled-back transaction (fast); the
# ones that run the queued job through the worker code use a real commit (`routed`).
pytestmark = pytest.mark.django_db
routed = pytest.mark.django_db(transaction=True)


def webhooks_queue_length() -> int:
    return get_rq_queue(Queue.WEBHOOKS).count


def test_githubs_documented_signature_test_vector() -> None:
    vector = json.loads((FIXTURES / "signature-test-vector.json").read_text())
    body = vector["payload"].encode("utf-8")
    assert signatures.sign(vector["secret"], body) == vector["expected_header_value"]
    assert signatures.verify(vector["secret"], body, vector["expected_header_value"])
    assert not signatures.verify(vector["secret"], b"Hello, World?", vector["expected_header_value"])
    assert not signatures.verify("", body, vector["expected_header_value"])  # no secret configured: nothing verifies


def test_intake_accepts_the_test_vector_signature_and_rejects_its_non_json_body(settings, clean_redis) -> None:
    vector = json.loads((FIXTURES / "signature-test-vector.json").read_text())
    settings.GITHUB_WEBHOOK_SECRET = vector["secret"]
    response = Client().post(
        "/webhooks/github", data=vector["payload"].encode(), content_type="application/json",
        headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "vector-1",
                 "X-Hub-Signature-256": vector["expected_header_value"]},
    )
    # The signature passed (not 401); "Hello, World!" is not JSON: 400, kept as rejected.
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get(delivery_id="vector-1")
    assert delivery.status == DeliveryStatus.REJECTED
    assert delivery.body_excerpt == "Hello, World!"
    assert webhooks_queue_length() == 0


def test_wrong_signature_is_401_and_stores_nothing(deliveries, clean_redis) -> None:
    response = deliveries.post("ping", payload("ping/payload"), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    missing = deliveries.post("ping", payload("ping/payload"), headers={"X-Hub-Signature-256": None})
    assert missing.status_code == 401
    assert WebhookDelivery.objects.count() == 0
    assert webhooks_queue_length() == 0


@pytest.mark.parametrize("header", ["X-GitHub-Event", "X-GitHub-Delivery"])
def test_missing_event_or_delivery_header_is_400(deliveries, clean_redis, header) -> None:
    response = deliveries.post("ping", payload("ping/payload"), headers={header: None})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_headers"
    assert WebhookDelivery.objects.count() == 0


def test_body_over_25_mb_is_413_and_not_stored(deliveries, settings, clean_redis) -> None:
    assert settings.GITHUB_WEBHOOK_MAX_BYTES == 25 * 1024 * 1024
    body = b'{"zen": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    response = deliveries.post("ping", body)
    assert response.status_code == 413
    assert WebhookDelivery.objects.count() == 0


def test_malformed_json_with_valid_signature_is_400_and_stored_rejected(deliveries, clean_redis) -> None:
    response = deliveries.post("pull_request", b'{"action": "opened", ', delivery_id="malformed-1")
    assert response.status_code == 400
    assert response["X-Correlation-ID"] == "malformed-1"
    delivery = WebhookDelivery.objects.get(delivery_id="malformed-1")
    assert delivery.status == DeliveryStatus.REJECTED
    assert "malformed JSON" in delivery.reason
    assert delivery.payload is None
    assert webhooks_queue_length() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'["an", "array"]', "the body is a JSON array, not an object"),
        (b'"a string"', "the body is a JSON string, not an object"),
        (b"\xff\xfe{}", "malformed JSON"),  # not UTF-8
        (b'{"zen": "a raw \x00 byte"}', "malformed JSON"),  # control characters must be escaped
        # Valid JSON that jsonb cannot store: refused with the reason, where it used to be a 500.
        (b'{"zen": "an escaped \\u0000"}', "unsupported Unicode escape sequence"),
        (b'{"zen": "z"} {"zen": "twice"}', "malformed JSON"),  # opens like an object, is not JSON
        (b"\xef\xbb\xbf{}", "malformed JSON"),  # a byte-order mark
    ],
    ids=["array", "string", "not-utf8", "raw-nul", "escaped-nul", "two-objects", "bom"],
)
def test_a_body_that_is_not_a_storable_json_object_is_400_and_stored_rejected(deliveries, clean_redis, body, reason) -> None:
    response = deliveries.post("pull_request", body, delivery_id="not-an-object")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    delivery = WebhookDelivery.objects.get(delivery_id="not-an-object")
    assert delivery.status == DeliveryStatus.REJECTED
    assert reason in delivery.reason
    assert delivery.payload is None
    assert "\x00" not in delivery.body_excerpt
    assert webhooks_queue_length() == 0


def test_an_object_after_json_whitespace_is_accepted(deliveries, clean_redis) -> None:
    response = deliveries.post("ping", b' \t\r\n {"zen": "Design for failure."}', delivery_id="spaced")
    assert response.status_code == 202
    assert WebhookDelivery.objects.get(delivery_id="spaced").payload == {"zen": "Design for failure."}


@pytest.mark.parametrize(
    ("fields", "action", "installation_id"),
    [
        ({"action": "opened", "installation": {"id": 42}}, "opened", 42),
        ({"action": "x" * 100, "installation": {"id": -7}}, "x" * 64, -7),
        ({"action": 5, "installation": {"id": 1.5}}, "", None),
        ({"action": None, "installation": {"id": "42"}}, "", None),
        ({"installation": {"id": True}}, "", None),
        ({"installation": {"id": 10**19}}, "", None),  # does not fit bigint
        ({"installation": [1, 2]}, "", None),
        ({}, "", None),
    ],
    ids=["plain", "long-action", "wrong-types", "id-as-string", "id-as-bool", "huge-id", "installation-array", "neither"],
)
@routed
def test_routing_fills_in_action_and_installation_id_only_when_well_typed(
    deliveries, clean_redis, fields, action, installation_id
) -> None:
    """The intake stores the body unread (PostgreSQL parses it); routing fills in the two columns."""
    response = deliveries.post("ping", {"zen": "Keep it logically awesome.", **fields}, delivery_id="typed")
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(delivery_id="typed")
    assert (delivery.status, delivery.action, delivery.installation_id) == (DeliveryStatus.RECEIVED, "", None)
    drain([Queue.WEBHOOKS])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.action, delivery.installation_id) == (DeliveryStatus.PROCESSED, action, installation_id)
    assert delivery.payload["zen"] == "Keep it logically awesome."


def test_delivery_is_stored_queued_and_answers_202_with_the_delivery_id_as_correlation_id(
    deliveries, clean_redis, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = deliveries.post("ping", payload("ping/payload"), delivery_id="d-202")
    assert response.status_code == 202
    assert response.json() == {"delivery_id": "d-202", "status": "queued", "correlation_id": "d-202"}
    assert response["X-Correlation-ID"] == "d-202"
    assert response["X-Request-ID"] == "d-202"
    delivery = WebhookDelivery.objects.get(delivery_id="d-202")
    assert delivery.status == DeliveryStatus.RECEIVED
    assert delivery.correlation_id == "d-202"
    assert delivery.payload["hook_id"] == payload("ping/payload")["hook_id"]
    assert webhooks_queue_length() == 1


@routed
def test_repeat_delivery_answers_200_and_queues_nothing(deliveries, clean_redis) -> None:
    first = deliveries.post("ping", payload("ping/payload"), delivery_id="again")
    assert first.status_code == 202
    drain([Queue.WEBHOOKS])
    second = deliveries.post("ping", payload("ping/payload"), delivery_id="again")
    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert WebhookDelivery.objects.filter(delivery_id="again").count() == 1
    assert webhooks_queue_length() == 0


@routed
def test_ping_is_processed(deliveries, clean_redis, log_records) -> None:
    deliveries.post("ping", payload("ping/payload"), delivery_id="ping-1")
    drain([Queue.WEBHOOKS])
    delivery = WebhookDelivery.objects.get(delivery_id="ping-1")
    assert delivery.status == DeliveryStatus.PROCESSED
    assert delivery.processed_at is not None
    # The worker's log lines carry the delivery id as correlation id.
    routed = [r for r in log_records() if r.get("event") == "webhook.routed"]
    assert routed and routed[-1]["correlation_id"] == "ping-1"


@routed
def test_unknown_event_is_ignored_with_its_reason(deliveries, clean_redis) -> None:
    response = deliveries.post("check_run", payload("check_run/created"), delivery_id="cr-1")
    assert response.status_code == 202
    drain([Queue.WEBHOOKS])
    delivery = WebhookDelivery.objects.get(delivery_id="cr-1")
    assert delivery.status == DeliveryStatus.IGNORED
    assert delivery.reason == "event 'check_run' is not handled"


@routed
def test_an_id_beyond_bigint_fails_the_delivery_without_retries(deliveries, clean_redis) -> None:
    bad = payload("installation/created")
    bad["installation"]["id"] = 2**63
    assert deliveries.post("installation", bad, delivery_id="huge-installation").status_code == 202
    drain([Queue.WEBHOOKS, Queue.SYNC])
    delivery = WebhookDelivery.objects.get(delivery_id="huge-installation")
    assert (delivery.status, delivery.installation_id) == (DeliveryStatus.FAILED, None)
    assert "'id' is out of range" in delivery.reason
    assert not Installation.objects.exists()
    queue = get_rq_queue(Queue.WEBHOOKS)
    assert queue.scheduled_job_registry.count == 0 and queue.count == 0


@routed
def test_unexpected_payload_fails_the_delivery_without_retries(deliveries, clean_redis) -> None:
    bad = payload("pull_request/opened")
    del bad["pull_request"]["number"]
    deliveries.post("pull_request", bad, delivery_id="bad-pr")
    drain([Queue.WEBHOOKS])
    delivery = WebhookDelivery.objects.get(delivery_id="bad-pr")
    assert delivery.status == DeliveryStatus.FAILED
    assert "'number' is missing" in delivery.reason
    # Deterministic: nothing scheduled for a retry.
    queue = get_rq_queue(Queue.WEBHOOKS)
    assert queue.scheduled_job_registry.count == 0 and queue.count == 0

