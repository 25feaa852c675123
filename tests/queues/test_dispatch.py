"""dispatch(): envelope, deterministic ids, after-commit queueing, duplicates, retention, concurrency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from rq.job import JobStatus

from queues.connection import SentinelJob, get_rq_queue
from queues.dispatch import dispatch
from queues.topology import Queue
from sentinel.correlation import correlation_context
from tests.queues import jobs

pytestmark = pytest.mark.django_db(transaction=True)


def test_dispatch_builds_the_envelope_with_the_current_correlation_id(redis_conn):
    with correlation_context("req-123"):
        job_id = dispatch(jobs.record, workspace_id=None, entity_ids={"run_id": 7}, data={"marker": "a"})
    assert job_id == "jobs-record-run_id-7"
    job = SentinelJob.fetch(job_id, connection=redis_conn)
    assert job.args == (
        {
            "schema_version": 1,
            "workspace_id": None,
            "correlation_id": "req-123",
            "entity_ids": {"run_id": 7},
            "data": {"marker": "a"},
            "job_id": "jobs-record-run_id-7",
        },
    )
    assert job.func_name == "tests.queues.jobs.record"
    assert job.origin == "default"
    assert job.timeout == Queue.DEFAULT.default_timeout
    assert job.result_ttl == Queue.DEFAULT.retention.result_ttl
    assert job.failure_ttl == Queue.DEFAULT.retention.failure_ttl


def test_dispatch_inside_a_transaction_queues_only_after_commit(redis_conn):
    queue = get_rq_queue(Queue.DEFAULT, redis_conn)
    with transaction.atomic():
        job_id = dispatch(jobs.record, workspace_id=None, entity_ids={"n": 1}, data={"marker": "x"})
        assert queue.count == 0
    assert queue.job_ids == [job_id]


def test_dispatch_in_a_rolled_back_transaction_queues_nothing(redis_conn):
    queue = get_rq_queue(Queue.DEFAULT, redis_conn)
    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch(jobs.record, workspace_id=None, entity_ids={"n": 1}, data={"marker": "x"})
        raise RuntimeError
    assert queue.count == 0


def test_the_same_dispatch_twice_queues_one_job(redis_conn):
    queue = get_rq_queue(Queue.DEFAULT, redis_conn)
    first = dispatch(jobs.record, workspace_id=None, entity_ids={"n": 1}, data={"marker": "x"})
    second = dispatch(jobs.record, workspace_id=None, entity_ids={"n": 1}, data={"marker": "x"})
    assert first == second
    assert queue.job_ids == [first]


def test_dispatch_without_the_duplicate_check_queues_the_same_job(redis_conn):
    """`unique=False` (the webhook intake's fast path) changes how the job is written, not what is written."""
    queue = get_rq_queue(Queue.DEFAULT, redis_conn)
    checked = SentinelJob.fetch(
        dispatch(jobs.flaky, workspace_id=None, entity_ids={"n": 1}, data={"fail_times": 0}), connection=redis_conn
    )
    fast_id = dispatch(jobs.flaky, workspace_id=None, entity_ids={"n": 2}, data={"fail_times": 0}, unique=False)
    fast = SentinelJob.fetch(fast_id, connection=redis_conn)
    assert queue.job_ids == [checked.id, fast_id]
    assert redis_conn.sismember("rq:queues", queue.key)
    for attribute in ("func_name", "origin", "timeout", "result_ttl", "failure_ttl", "retries_left", "meta"):
        assert getattr(fast, attribute) == getattr(checked, attribute), attribute
    assert len(fast.retry_intervals) == len(checked.retry_intervals) == jobs.FAST.attempts
    assert fast.get_status() == JobStatus.QUEUED
    assert redis_conn.ttl(SentinelJob.key_for(fast_id)) == -1
    assert fast.args[0]["entity_ids"] == {"n": 2}


def test_envelope_to_dict_is_dataclasses_asdict():
    """to_dict is spelled out for speed; it must stay what asdict gives, field for field."""
    from dataclasses import asdict

    from queues.envelope import Envelope

    envelope = Envelope(schema_version=2, workspace_id=3, correlation_id="c", entity_ids={"run_id": 1},
                        data={"nested": {"list": [1, {"a": 2}]}}, job_id="j")
    as_dict = envelope.to_dict()
    assert as_dict == asdict(envelope)
    assert Envelope.from_dict(as_dict) == envelope
    as_dict["data"]["nested"]["list"].append(3)
    assert envelope.data == {"nested": {"list": [1, {"a": 2}]}}  # a copy, not the envelope's own


def test_the_same_workspace_dispatch_twice_queues_one_job(redis_conn):
    """With a workspace the job is concurrency-limited (rq RateLimit), where rq refuses unique=True."""
    queue = get_rq_queue(Queue.DEFAULT, redis_conn)
    first = dispatch(jobs.record, workspace_id=5, entity_ids={"n": 1}, data={"marker": "x"})
    second = dispatch(jobs.record, workspace_id=5, entity_ids={"n": 1}, data={"marker": "x"})
    assert first == second
    assert queue.job_ids == [first]
    assert SentinelJob.fetch(first, connection=redis_conn).rate_limit_key == "workspace:5:default"
    assert redis_conn.ttl(SentinelJob.key_for(first)) == -1  # the claim's expiry is gone


def test_a_stale_claim_from_a_dead_dispatcher_expires(redis_conn):
    """A process that died between reserving the id and enqueueing leaves an expiring placeholder."""
    from queues.dispatch import _CLAIM, CLAIM_TTL

    key = SentinelJob.key_for("jobs-record-n-9")
    assert redis_conn.register_script(_CLAIM)(keys=[key], args=[CLAIM_TTL]) == 1
    assert 0 < redis_conn.ttl(key) <= CLAIM_TTL


def test_queue_override_and_delay(redis_conn):
    job_id = dispatch(
        jobs.record,
        workspace_id=None,
        entity_ids={"n": 2},
        data={"marker": "x"},
        queue=Queue.REVIEWS_PAID,
        delay=timedelta(minutes=5),
    )
    job = SentinelJob.fetch(job_id, connection=redis_conn)
    assert job.origin == "reviews-paid"
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.timeout == Queue.REVIEWS_PAID.default_timeout


def test_workspace_concurrency_limit_comes_from_the_resolver_setting(redis_conn, settings):
    settings.SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER = "tests.queues.test_dispatch.plan_limits"
    ids = [dispatch(jobs.fair, workspace_id=9, entity_ids={"n": n}) for n in range(4)]
    queue = get_rq_queue(Queue.REVIEWS_DEFAULT, redis_conn)
    assert queue.job_ids == ids[:2]  # the other two wait for a slot
    assert SentinelJob.fetch(ids[3], connection=redis_conn).get_status() == JobStatus.RATE_LIMITED


def plan_limits(*, workspace_id: int, queue: Queue) -> int:
    return 2 if queue is Queue.REVIEWS_DEFAULT else 10
