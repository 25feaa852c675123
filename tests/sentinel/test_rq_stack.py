"""The pinned rq 3 / django-rq / rq-scheduler combination works together (docs/decisions.md)."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker
from rq_scheduler import Scheduler


@pytest.mark.django_db(transaction=True)
def test_enqueue_and_worker_run(redis_conn):
    queue = django_rq.get_queue("default")
    job = queue.enqueue("tests.sentinel.sample_jobs.record", "now")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    job.refresh()
    assert job.is_finished and job.return_value() == "now"
    assert redis_conn.lrange("test:ran", 0, -1) == [b"now"]


@pytest.mark.django_db(transaction=True)
def test_rq_scheduler_moves_a_due_job_onto_its_queue(redis_conn):
    queue = django_rq.get_queue("default")
    scheduler = Scheduler(queue=queue, connection=queue.connection)
    due = scheduler.enqueue_at(timezone.now() - timedelta(seconds=1), "tests.sentinel.sample_jobs.record", "due")
    later = scheduler.enqueue_at(timezone.now() + timedelta(hours=1), "tests.sentinel.sample_jobs.record", "later")
    scheduler.run(burst=True)
    assert due.id in queue.job_ids and later.id not in queue.job_ids
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert redis_conn.lrange("test:ran", 0, -1) == [b"due"]
