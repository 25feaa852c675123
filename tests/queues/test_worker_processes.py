"""Behaviour that needs real worker processes: strict priority, SIGKILL mid-job, cancellation of a
running job, progress seen from another process, metrics written by work-horses."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from rq.job import JobStatus

from queues.connection import SentinelJob
from queues.control import cancel, get_progress
from queues.dispatch import dispatch
from queues.models import DeadLetter
from queues.pools import POOLS
from queues.signals import job_cancelled
from queues.testing import drain
from queues.topology import Queue
from tests.queues import jobs
from tests.queues.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]

ALL_QUEUES = [q.queue_name for q in Queue.by_priority()]


def status(redis_conn, job_id):
    return SentinelJob.fetch(job_id, connection=redis_conn).get_status()


def sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_strict_priority_and_metrics_from_worker_processes(redis_conn, workers):
    """One forking worker on every queue: it takes system, then webhooks, then the review queue,
    then bulk; the counters its work-horses wrote are served at /metrics."""
    client = Client()
    before = client.get("/metrics").content.decode()
    # Queued lowest priority first, so queue order alone would give the opposite.
    for queue in (Queue.BULK, Queue.REVIEWS_DEFAULT, Queue.WEBHOOKS, Queue.SYSTEM):
        for n in range(2):
            dispatch(jobs.record, workspace_id=None, entity_ids={"q": queue.queue_name, "n": n},
                     data={"marker": queue.queue_name}, queue=queue)
    workers.start(ALL_QUEUES, burst=True).wait(timeout=90)
    ran = [m.decode() for m in redis_conn.lrange("tq:ran", 0, -1)]
    assert ran == ["system", "system", "webhooks", "webhooks", "reviews-default", "reviews-default", "bulk", "bulk"]

    dispatch(jobs.record, workspace_id=7, entity_ids={"n": 3}, data={"marker": "m"}, queue=Queue.SYNC)
    body = client.get("/metrics").content.decode()
    for queue in ("system", "webhooks", "reviews-default", "bulk"):
        completed = f'sentinel_jobs_total{{queue="{queue}",status="completed"}}'
        assert sample(body, completed) == sample(before, completed) + 2
        assert sample(body, f'sentinel_job_duration_seconds_count{{queue="{queue}"}}') >= 2
        assert sample(body, f'sentinel_job_wait_seconds_count{{queue="{queue}"}}') >= 2
    assert sample(body, 'sentinel_queue_depth{queue="sync"}') == 1
    assert 'sentinel_dead_letters{queue="sync"} 0.0' in body
    assert "workspace=\"" not in body and "workspace_id=\"" not in body  # never labelled by workspace


def test_every_pool_lists_its_queues_in_priority_order():
    for pool in POOLS.values():
        priorities = [Queue.from_name(name).priority for name in pool.queue_names]
        assert priorities == sorted(priorities), pool.name
    assert POOLS["critical"].queue_names == ["system", "webhooks"]
    assert POOLS["enterprise"].queue_names == ["reviews-enterprise"]


def test_a_worker_killed_mid_job_is_retried_and_completes_exactly_once(redis_conn, workers):
    job_id = dispatch(jobs.killable, workspace_id=None, entity_ids={"n": 1})
    first = workers.start(["reviews-default"])
    wait_for(lambda: redis_conn.get("tq:killable:runs") == b"1", timeout=30)
    workers.kill(first)  # SIGKILL to the worker, its work-horse and its scheduler: a machine dying
    assert status(redis_conn, job_id) == JobStatus.STARTED  # nobody told rq
    workers.start(["reviews-default"])  # maintenance finds the abandoned job and retries it
    wait_for(lambda: status(redis_conn, job_id) == JobStatus.FINISHED, timeout=45)
    time.sleep(0.5)
    assert redis_conn.get("tq:killable:runs") == b"2"
    assert redis_conn.get("tq:killable:completed") == b"1"
    assert not DeadLetter.objects.exists()  # retried, not dead-lettered
    assert "AbandonedJobError" in workers.log_text()


def test_an_abandoned_job_without_retries_left_becomes_a_dead_letter(redis_conn, workers):
    job_id = dispatch(jobs.hangs, workspace_id=4, entity_ids={"n": 1}, data={"api_key": "sk-secret"})
    first = workers.start(["reviews-default"])
    wait_for(lambda: redis_conn.get("tq:hangs:started"), timeout=30)
    workers.kill(first)
    workers.start(["reviews-default"])  # its maintenance finds the job abandoned
    dead = wait_for(lambda: DeadLetter.objects.filter(job_id=job_id).first(), timeout=45)
    assert "AbandonedJobError" in dead.error
    assert dead.workspace_id == 4 and dead.payload["data"] == {"api_key": "***"}
    wait_for(lambda: status(redis_conn, job_id) == JobStatus.FAILED, timeout=20)


def test_cancelling_a_queued_job_means_it_never_runs(redis_conn):
    seen = []

    def receiver(sender, job_id, was_running, **kwargs):
        seen.append((job_id, was_running))

    job_cancelled.connect(receiver)
    try:
        job_id = dispatch(jobs.slow, workspace_id=None, entity_ids={"n": 1}, data={"steps": 2, "pause": 0})
        assert cancel(job_id) == "cancelled"
    finally:
        job_cancelled.disconnect(receiver)
    assert seen == [(job_id, False)]
    assert status(redis_conn, job_id) == JobStatus.CANCELED
    drain([Queue.REVIEWS_DEFAULT])
    assert redis_conn.get("tq:slow:at") is None
    assert cancel(job_id) == "finished"
    assert not DeadLetter.objects.exists()


def test_progress_is_visible_from_another_process_and_a_running_job_can_be_cancelled(redis_conn, workers):
    # Long enough (60 s) that a busy machine cannot finish it before the cancel lands.
    job_id = dispatch(jobs.slow, workspace_id=None, entity_ids={"n": 2}, data={"steps": 300, "pause": 0.2})
    workers.start(["reviews-default"])
    progress = wait_for(lambda: (p := get_progress(job_id)) and p["percent"] >= 1 and p, timeout=60)
    assert progress["step"].startswith("step-") and 1 <= progress["percent"] < 100

    assert cancel(job_id) == "stopping"

    wait_for(lambda: status(redis_conn, job_id) in (JobStatus.STOPPED, JobStatus.CANCELED), timeout=30)
    at = int(redis_conn.get("tq:slow:at"))
    time.sleep(0.5)
    assert int(redis_conn.get("tq:slow:at")) == at < 299  # it really stopped
    assert not DeadLetter.objects.exists()
    assert "job.progress" in workers.log_text()
