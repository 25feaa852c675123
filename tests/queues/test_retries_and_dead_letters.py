"""Retries, RetryAfter, permanent failures and dead letters, through real worker processes."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rq.job import JobStatus

from queues.connection import SentinelJob, get_rq_queue
from queues.deadletters import discard_dead_letter, replay_dead_letter
from queues.dispatch import dispatch
from queues.envelope import Envelope
from queues.models import DeadLetter, DeadLetterEvent
from queues.signals import job_permanently_failed
from queues.topology import Queue
from tests.queues import jobs
from tests.queues.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]


def job_status(redis_conn, job_id):
    return SentinelJob.fetch(job_id, connection=redis_conn).get_status()


def test_a_job_failing_twice_then_succeeding_runs_three_times_with_growing_delays(redis_conn, workers):
    job_id = dispatch(jobs.flaky, workspace_id=None, entity_ids={"n": 1}, data={"fail_times": 2})
    workers.start(["default"])
    wait_for(lambda: job_status(redis_conn, job_id) == JobStatus.FINISHED, timeout=30)
    times = [float(t) for t in redis_conn.lrange("tq:flaky:times", 0, -1)]
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    # FAST policy: 1 s then 2 s. rq keeps scheduled times in whole seconds and its scheduler polls
    # every second, so each gap is the interval within about one second.
    assert 0.5 <= first_gap < 2.5
    assert 1.5 <= second_gap < 3.5
    assert second_gap > first_gap
    assert DeadLetter.objects.count() == 0


def test_a_job_failing_always_ends_as_exactly_one_dead_letter_with_masked_payload(redis_conn, workers):
    received = []

    def receiver(sender, dead_letter, **kwargs):
        received.append(dead_letter.job_id)

    job_permanently_failed.connect(receiver)
    try:
        job_id = dispatch(
            jobs.always_fails,
            workspace_id=3,
            entity_ids={"n": 1},
            data={"repo": "acme/api", "api_token": "ghs_supersecret", "nested": {"password": "hunter2"}},
        )
        workers.start(["default"])
        wait_for(lambda: DeadLetter.objects.exists(), timeout=30)
        wait_for(lambda: job_status(redis_conn, job_id) == JobStatus.FAILED)
    finally:
        job_permanently_failed.disconnect(receiver)
    assert int(redis_conn.get("tq:always:runs")) == 3  # first run + 2 retries
    dead = DeadLetter.objects.get()
    assert dead.job_id == job_id
    assert dead.job_name == "tests.queues.jobs.always_fails"
    assert dead.queue == "default"
    assert dead.workspace_id == 3
    assert dead.attempts == 3
    assert "RuntimeError: upstream said no" in dead.error
    assert "always_fails" in dead.traceback
    assert dead.payload["data"] == {"repo": "acme/api", "api_token": "***", "nested": {"password": "***"}}
    assert "ghs_supersecret" not in str(dead.payload) + dead.traceback + dead.error
    # The signal fires in the worker process; this process sees the row, the worker's log the event.
    assert "job.dead_lettered" in workers.log_text()
    assert "ghs_supersecret" not in workers.log_text()


def test_replay_runs_a_dead_letter_again_with_the_same_job_id(redis_conn, workers):
    job_id = dispatch(jobs.always_fails, workspace_id=None, entity_ids={"n": 2}, data={"token": "s3cret"})
    workers.start(["default"])
    dead = wait_for(lambda: DeadLetter.objects.first(), timeout=30)
    wait_for(lambda: job_status(redis_conn, job_id) == JobStatus.FAILED)
    runs_before = int(redis_conn.get("tq:always:runs"))

    replayed_id = replay_dead_letter(dead_letter=dead, actor="ops@example.com")

    assert replayed_id == job_id
    wait_for(lambda: DeadLetter.objects.count() == 2, timeout=30)
    assert int(redis_conn.get("tq:always:runs")) == runs_before + 3
    dead.refresh_from_db()
    assert dead.status == DeadLetter.Status.REPLAYED and dead.replay_count == 1
    event = DeadLetterEvent.objects.get(dead_letter=dead)
    assert (event.action, event.actor) == ("replayed", "ops@example.com")
    # The replay used the unmasked payload still kept by rq, not the masked copy.
    newest = DeadLetter.objects.order_by("-id").first()
    assert newest.job_id == job_id


def _record_dead_letter(job_id: str, *, n: int, marker: str) -> DeadLetter:
    """A pending dead letter of `jobs.record` on `default`, with the envelope a replay queues again."""
    envelope = Envelope(schema_version=1, workspace_id=None, correlation_id="c", entity_ids={"n": n},
                        data={"marker": marker}, job_id=job_id)
    return DeadLetter.objects.create(job_id=job_id, job_name="tests.queues.jobs.record", queue="default", error="e",
                                     failed_at="2026-01-01T00:00Z", payload=envelope.to_dict())


def test_discard_keeps_the_row_and_an_audit_record(redis_conn):
    dead = DeadLetter.objects.create(
        job_id="x-1",
        job_name="tests.queues.jobs.leaky",
        queue="default",
        error="boom",
        failed_at="2026-01-01T00:00Z",
    )
    discard_dead_letter(dead_letter=dead, actor="alice", reason="obsolete")
    dead.refresh_from_db()
    assert dead.status == DeadLetter.Status.DISCARDED and dead.resolved_at is not None
    assert list(dead.events.values_list("action", "actor", "note")) == [("discarded", "alice", "obsolete")]
    with pytest.raises(ValueError):
        replay_dead_letter(dead_letter=dead, actor="bob")


def test_a_dead_letter_replays_once_a_second_confirmation_is_refused(redis_conn):
    dead = _record_dead_letter("twice-1", n=9, marker="twice")
    replay_dead_letter(dead_letter=dead, actor="alice")
    with pytest.raises(ValueError, match="already replayed"):
        replay_dead_letter(dead_letter=dead, actor="bob")
    dead.refresh_from_db()
    assert dead.replay_count == 1
    assert list(dead.events.values_list("actor", flat=True)) == ["alice"]
    assert get_rq_queue(Queue.DEFAULT, redis_conn).count == 1


def test_replay_command_selects_by_queue_and_ids(redis_conn):
    a = _record_dead_letter("a-1", n=1, marker="replayed")
    b = DeadLetter.objects.create(
        job_id="b-1",
        job_name="tests.queues.jobs.record",
        queue="bulk",
        error="e",
        failed_at="2026-01-01T00:00Z",
    )
    call_command("replay_dead_letters", "--queue", "default", "--actor", "cli-test")
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "replayed" and b.status == "pending"
    job = SentinelJob.fetch("a-1", connection=redis_conn)
    assert job.origin == "default" and job.args[0]["data"] == {"marker": "replayed"}
    call_command("replay_dead_letters", "--ids", str(b.pk), "--dry-run")
    b.refresh_from_db()
    assert b.status == "pending"


def test_a_permanent_failure_is_not_retried(redis_conn, workers):
    job_id = dispatch(jobs.permanent, workspace_id=None, entity_ids={"n": 1})
    workers.start(["default"])
    dead = wait_for(lambda: DeadLetter.objects.first(), timeout=30)
    # The dead letter is written while the worker handles the failure, a moment before rq marks
    # the job failed: wait for the final status, then check nothing ran again.
    wait_for(lambda: job_status(redis_conn, job_id) == JobStatus.FAILED)
    assert int(redis_conn.get("tq:permanent:runs")) == 1
    assert dead.attempts == 1 and "PermanentFailure" in dead.error


def test_retry_after_delays_the_retry_by_the_requested_seconds(redis_conn, workers):
    job_id = dispatch(jobs.wants_retry_after, workspace_id=None, entity_ids={"n": 1})
    workers.start(["default"])
    wait_for(lambda: job_status(redis_conn, job_id) == JobStatus.FINISHED, timeout=30)
    first, second = (float(t) for t in redis_conn.lrange("tq:ra:times", 0, -1))
    assert second - first >= 2.5  # the policy alone would have waited 1 s (whole-second scheduling)


def test_an_unknown_schema_version_fails_clearly_without_retry(redis_conn, workers):
    from queues.dispatch import enqueue_envelope
    from queues.envelope import Envelope
    from queues.topology import Queue

    envelope = Envelope(schema_version=1, workspace_id=None, correlation_id="c", job_id="versioned-old")
    enqueue_envelope(jobs.versioned.spec, envelope, queue=Queue.DEFAULT)
    workers.start(["default"])
    dead = wait_for(lambda: DeadLetter.objects.first(), timeout=30)
    assert "UnknownSchemaVersion" in dead.error and "accepts schema versions [2], got 1" in dead.error
