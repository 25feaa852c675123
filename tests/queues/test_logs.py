"""Job logs carry the seed's required fields; secrets in a payload never reach a log line."""

from __future__ import annotations

import json

import pytest

from queues.dispatch import dispatch
from queues.models import DeadLetter
from queues.testing import drain
from sentinel.correlation import correlation_context
from tests.queues import jobs

pytestmark = pytest.mark.django_db(transaction=True)


def events(records, name):
    return [r for r in records if r.get("event") == name]


def test_a_completed_job_logs_start_and_completion_with_the_required_fields(redis_conn, log_records):
    with correlation_context("corr-1"):
        job_id = dispatch(jobs.record, workspace_id=12, entity_ids={"run_id": 5}, data={"marker": "m"})
    drain()
    records = log_records()
    (started,) = events(records, "job.started")
    (completed,) = events(records, "job.completed")
    for record in (started, completed):
        assert record["job_id"] == job_id
        assert record["correlation_id"] == "corr-1"
        assert record["workspace_id"] == 12
        assert record["queue"] == "default"
        assert record["attempt"] == 1
        assert record["entity_ids"] == {"run_id": 5}
        assert record["timestamp"]
    assert isinstance(completed["duration_ms"], int)
    assert completed["result"] == "'m'"


def test_a_failed_job_logs_error_duration_attempt_and_will_retry_and_masks_secrets(redis_conn, log_records):
    dispatch(
        jobs.leaky,
        workspace_id=None,
        entity_ids={"n": 1},
        data={"authorization": "Bearer abc.def", "github_token": "ghs_123"},
    )
    drain()
    records = log_records()
    (failed,) = events(records, "job.failed")
    assert failed["error"] == "RuntimeError: boom"
    assert failed["will_retry"] is False
    assert failed["attempt"] == 1
    assert isinstance(failed["duration_ms"], int)
    text = json.dumps(records)
    assert "ghs_123" not in text and "abc.def" not in text
    dead = DeadLetter.objects.get()
    assert dead.payload["data"] == {"authorization": "***", "github_token": "***"}
