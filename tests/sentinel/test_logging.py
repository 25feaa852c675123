"""structlog output: JSON lines, masked secrets, correlation ids."""

from __future__ import annotations

import uuid

import pytest
import structlog

from sentinel.logging import MASK, mask_value


def test_masking_hides_every_sensitive_key_in_nested_events():
    event = {
        "event": "job.started",
        "token": "ghs_abc",
        "payload": {
            "api_key": "sk-live-1",
            "nested": [{"password": "hunter2", "safe": 1}, {"Authorization": "Bearer x"}],
            "private_key": "-----BEGIN",
            "client_secret": "s3",
            "webhook_secret": "w",
            "access_token": "a",
            "key": "bare",
            "idempotency_key": "run:1",
            "repository": "octo/repo",
        },
        "headers": ({"X-Api-Key": "k"},),
    }
    masked = mask_value(event)
    assert masked["token"] == MASK
    assert masked["payload"]["api_key"] == MASK
    assert masked["payload"]["nested"][0] == {"password": MASK, "safe": 1}
    assert masked["payload"]["nested"][1] == {"Authorization": MASK}
    assert masked["payload"]["private_key"] == MASK
    assert masked["payload"]["client_secret"] == MASK
    assert masked["payload"]["webhook_secret"] == MASK
    assert masked["payload"]["access_token"] == MASK
    assert masked["payload"]["key"] == MASK
    # Not secrets: left readable for operators.
    assert masked["payload"]["idempotency_key"] == "run:1"
    assert masked["payload"]["repository"] == "octo/repo"
    assert masked["headers"] == ({"X-Api-Key": MASK},)
    # The source event is not modified (masking happens at the logging boundary only).
    assert event["token"] == "ghs_abc"


def test_log_lines_are_json_with_required_fields_and_masked_values(log_records):
    structlog.get_logger("sentinel.test").info("thing.happened", api_key="sk-secret", detail={"token": "t"})
    records = [r for r in log_records() if r.get("event") == "thing.happened"]
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "info"
    assert record["logger"] == "sentinel.test"
    assert record["timestamp"].endswith("Z")
    assert record["api_key"] == MASK
    assert record["detail"] == {"token": MASK}


def test_stdlib_loggers_use_the_same_json_format(log_records):
    import logging

    logging.getLogger("rq.worker").warning("plain %s", "message")
    records = [r for r in log_records() if r.get("event") == "plain message"]
    assert records and records[0]["level"] == "warning" and records[0]["logger"] == "rq.worker"


@pytest.mark.django_db
def test_request_id_is_echoed_and_in_the_request_log_lines(client, log_records):
    request_id = f"req-{uuid.uuid4()}"
    response = client.get("/readyz", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id
    lines = [r for r in log_records() if r.get("event") == "http.request" and r.get("path") == "/readyz"]
    assert len(lines) == 1
    assert lines[0]["correlation_id"] == request_id
    assert lines[0]["status"] == 200


def test_request_without_id_gets_a_uuid(client, log_records):
    response = client.get("/healthz")
    generated = response["X-Request-ID"]
    assert str(uuid.UUID(generated)) == generated
    lines = [r for r in log_records() if r.get("event") == "http.request" and r.get("path") == "/healthz"]
    assert lines[-1]["correlation_id"] == generated


def test_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    uuid.UUID(response["X-Request-ID"])
