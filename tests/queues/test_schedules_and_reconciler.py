"""Schedules (rq-scheduler, registered idempotently, a unique id per tick), the scheduler process's
liveness, the SLA monitor and the reconciler, run through the real scheduler and worker code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from rq.job import JobStatus
from rq.utils import utcformat

from queues import keys, reconciler, schedules, sla
from queues.connection import SentinelJob, get_redis, get_rq_queue
from queues.dispatch import dispatch
from queues.health import collect_health
from queues.metrics import SLA_BREACHED
from queues.schedules import Schedule, SentinelScheduler, register_schedule, sync_schedules
from queues.signals import queue_sla_breached
from queues.testing import drain
from queues.topology import Queue
from tests.queues import jobs
from tests.queues.conftest import ROOT, wait_for
from tests.queues.conftest import test_database_url as database_url

pytestmark = pytest.mark.django_db(transaction=True)


def scheduled_ids(redis_conn) -> dict[str, float]:
    return {k.decode(): v for k, v in redis_conn.zrange("rq:scheduler:scheduled_jobs", 0, -1, withscores=True)}


def test_schedules_are_registered_idempotently(redis_conn, settings):
    settings.SENTINEL_SCHEDULES = [{"name": "tests.nightly", "cron": "0 3 * * *", "job": "tests.queues.jobs.record"}]
    scheduler = SentinelScheduler(connection=get_redis())

    first = sync_schedules(scheduler)
    # domain apps register their own schedules too (billing, analytics): look at the platform's and ours
    ours = {"queues.reconciler", "queues.sla_monitor", "tests.nightly"}
    assert ours <= set(first["added"])
    assert not [name for name in first["added"] if name.startswith(("queues.", "tests.")) and name not in ours]
    registered = scheduled_ids(redis_conn)
    assert {"schedule-queues-reconciler", "schedule-queues-sla_monitor", "schedule-tests-nightly"} <= set(registered)
    nightly_at = datetime.fromtimestamp(registered["schedule-tests-nightly"], UTC)
    assert (nightly_at.hour, nightly_at.minute) == (3, 0)

    again = sync_schedules(scheduler)
    assert again["added"] == again["updated"] == again["removed"] == []
    assert scheduled_ids(redis_conn) == registered  # unchanged schedules keep their next run

    settings.SENTINEL_SCHEDULES = [{"name": "tests.nightly", "cron": "30 4 * * *", "job": "tests.queues.jobs.record"}]
    changed = sync_schedules(scheduler)
    assert changed["updated"] == ["tests.nightly"]
    assert datetime.fromtimestamp(scheduled_ids(redis_conn)["schedule-tests-nightly"], UTC).hour == 4

    settings.SENTINEL_SCHEDULES = []
    assert sync_schedules(scheduler)["removed"] == ["schedule-tests-nightly"]
    assert not redis_conn.exists("rq:job:schedule-tests-nightly")


def test_register_schedule_from_code_and_bad_cron_fails_at_declaration(redis_conn):
    try:
        register_schedule("tests.code", cron="*/5 * * * *", job="tests.queues.jobs.record", data={"marker": "c"})
        assert schedules.declared_schedules()["tests.code"].data == {"marker": "c"}
    finally:
        schedules._registered.pop("tests.code", None)
    with pytest.raises(ValueError):
        Schedule("tests.bad", "61 * * * *", "tests.queues.jobs.record")


def test_a_tick_queues_the_job_once_with_a_unique_id_per_tick(redis_conn, settings):
    settings.SENTINEL_SCHEDULES = [
        {"name": "tests.every_minute", "cron": "* * * * *", "job": "tests.queues.jobs.record", "data": {"marker": "t"}}
    ]
    scheduler = SentinelScheduler(connection=get_redis())
    sync_schedules(scheduler)
    template = SentinelJob.fetch("schedule-tests-every_minute", connection=redis_conn)
    tick = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    job_id = scheduler.fire(template, tick)
    duplicate = scheduler.fire(template, tick)  # a second scheduler, or a restart mid-tick
    next_tick = scheduler.fire(template, tick + timedelta(minutes=1))

    assert job_id == duplicate == f"schedule-tests-every_minute-{int(tick.timestamp())}"
    assert next_tick != job_id
    assert get_rq_queue(Queue.DEFAULT, redis_conn).job_ids == [job_id, next_tick]
    queued = SentinelJob.fetch(job_id, connection=redis_conn)
    assert queued.args[0]["entity_ids"] == {"schedule": "tests.every_minute", "tick": int(tick.timestamp())}
    assert queued.result_ttl == schedules.TICK_RESULT_TTL
    assert scheduled_ids(redis_conn)["schedule-tests-every_minute"] > datetime.now(UTC).timestamp()
    drain([Queue.DEFAULT])
    assert redis_conn.lrange("tq:ran", 0, -1) == [b"t", b"t"]


@pytest.mark.workers
def test_the_scheduler_process_fires_due_ticks_and_reports_liveness(redis_conn):
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": django_settings.REDIS_URL}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_scheduler", "--interval", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_for(lambda: collect_health()["scheduler"]["alive"], timeout=60)
        # Make the SLA monitor's tick due now; the running scheduler queues it on `system`.
        redis_conn.zadd("rq:scheduler:scheduled_jobs", {"schedule-queues-sla_monitor": 1})
        wait_for(lambda: get_rq_queue(Queue.SYSTEM, redis_conn).count == 1, timeout=30)
        (job_id,) = get_rq_queue(Queue.SYSTEM, redis_conn).job_ids
        assert job_id.startswith("schedule-queues-sla_monitor-")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert collect_health()["scheduler"] == {"alive": False, "last_seen": None}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_sla_monitor_logs_sets_the_metric_and_signals_a_breach(redis_conn, log_records):
    received = []

    def receiver(sender, queue, oldest_wait_seconds, sla_seconds, **kwargs):
        received.append((queue, sla_seconds))

    job_id = dispatch(jobs.record, workspace_id=None, entity_ids={"n": 1}, data={"marker": "x"}, queue=Queue.WEBHOOKS)
    dispatch(jobs.record, workspace_id=None, entity_ids={"n": 2}, data={"marker": "x"}, queue=Queue.BULK)
    redis_conn.hset(f"rq:job:{job_id}", "enqueued_at", utcformat(datetime.now(UTC) - timedelta(seconds=40)))
    queue_sla_breached.connect(receiver)
    try:
        # Through the platform: the built-in schedule's job on `system`, run by a worker.
        from queues.jobs import monitor_sla

        dispatch(monitor_sla, workspace_id=None, entity_ids={"tick": 1})
        drain([Queue.SYSTEM])
    finally:
        queue_sla_breached.disconnect(receiver)
    assert received == [(Queue.WEBHOOKS, 15)]
    (breach,) = [r for r in log_records() if r.get("event") == "queue.sla_breach"]
    assert breach["queue"] == "webhooks" and breach["sla_seconds"] == 15 and breach["oldest_wait_seconds"] >= 40
    assert breach["level"] == "warning"
    assert SLA_BREACHED.labels(queue="webhooks")._value.get() == 1
    assert SLA_BREACHED.labels(queue="bulk")._value.get() == 0
    assert redis_conn.hget(keys.SLA_STATE, "webhooks") == b"1"

    redis_conn.delete("rq:queue:webhooks")
    assert sla.check() == []
    assert SLA_BREACHED.labels(queue="webhooks")._value.get() == 0


@pytest.fixture
def lost_and_found():
    """A domain-like source: entities 1..3 "should have a live job" (jobs.record per entity)."""
    entities = [1, 2, 3]
    reconciler.register(
        "tests.entities",
        source=lambda: list(entities),
        job_id=lambda n: f"jobs-record-n-{n}",
        redispatch=lambda n: dispatch(jobs.record, workspace_id=None, entity_ids={"n": n}, data={"marker": str(n)}),
    )
    yield entities
    reconciler.unregister("tests.entities")


def test_a_job_lost_from_redis_is_redispatched_by_the_reconciler(redis_conn, lost_and_found):
    for n in lost_and_found:
        dispatch(jobs.record, workspace_id=None, entity_ids={"n": n}, data={"marker": str(n)})
    queue = get_rq_queue(Queue.DEFAULT, redis_conn)
    # Job 2 vanishes the way a kill between BLMOVE and "started" drops it: no queue entry, no hash.
    queue.remove("jobs-record-n-2")
    redis_conn.delete("rq:job:jobs-record-n-2")

    # The reconciler's cron tick, fired by the scheduler and run by a worker on `system`.
    scheduler = SentinelScheduler(connection=get_redis())
    sync_schedules(scheduler)
    template = SentinelJob.fetch("schedule-queues-reconciler", connection=redis_conn)
    scheduler.fire(template, datetime.now(UTC).replace(second=0, microsecond=0))
    drain([Queue.SYSTEM])

    assert sorted(queue.job_ids) == ["jobs-record-n-1", "jobs-record-n-2", "jobs-record-n-3"]
    health = collect_health()
    assert health["reconciler"]["last_run"] is not None
    drain([Queue.DEFAULT])
    assert sorted(redis_conn.lrange("tq:ran", 0, -1)) == [b"1", b"2", b"3"]  # each exactly once

    # Nothing is missing now (finished jobs are still known): a second run re-dispatches nothing.
    assert reconciler.run()["redispatched"] == 0


def test_after_redis_restarts_empty_the_reconciler_and_the_scheduler_restore_everything(redis_conn, lost_and_found):
    scheduler = SentinelScheduler(connection=get_redis())
    sync_schedules(scheduler)
    for n in lost_and_found:
        dispatch(jobs.record, workspace_id=None, entity_ids={"n": n}, data={"marker": str(n)})
    redis_conn.flushdb()

    assert sync_schedules(scheduler)["added"]  # the scheduler re-registers its schedules
    result = reconciler.run()
    assert result["redispatched"] == 3 and result["sources"]["tests.entities"]["checked"] == 3
    assert SentinelJob.fetch("jobs-record-n-3", connection=redis_conn).get_status() == JobStatus.QUEUED


def test_a_failing_redispatch_is_counted_and_the_rest_continue(redis_conn):
    def redispatch(n):
        if n == 1:
            raise RuntimeError("entity gone")
        dispatch(jobs.record, workspace_id=None, entity_ids={"n": n}, data={"marker": str(n)})

    reconciler.register("tests.flaky", source=lambda: [1, 2], job_id=lambda n: f"jobs-record-n-{n}", redispatch=redispatch)
    try:
        result = reconciler.run()
    finally:
        reconciler.unregister("tests.flaky")
    assert (result["redispatched"], result["errors"]) == (1, 1)
