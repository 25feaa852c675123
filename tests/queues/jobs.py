"""Declared jobs the queues tests run through real workers (rq imports them by dotted path)."""

from __future__ import annotations

import os
import time

import redis
from django.conf import settings
from rq import Retry

from queues.control import report_progress
from queues.declaration import job
from queues.envelope import Envelope
from queues.exceptions import PermanentFailure, RetryAfter
from queues.idempotency import idempotent
from queues.retry import RetryPolicy
from queues.topology import Queue

# Short policies for behaviour tests; the production values are tested as values.
FAST = RetryPolicy("test-fast", attempts=2, base_seconds=1, jitter=0.0)
ONE_RETRY = RetryPolicy("test-one", attempts=1, base_seconds=1, jitter=0.0)


class ImmediateRetry(RetryPolicy):
    """Retry at once (rq's interval 0: re-queued without the scheduler).

    The kill test SIGKILLs a whole worker, including the rq scheduler it may hold the lock of;
    that lock lives 61 s, so a delayed retry would wait that long in the test (in production the
    retry still comes within the 90 s budget: docs/operations.md).
    """

    def to_rq(self) -> Retry:
        return Retry(max=self.attempts, interval=0)


IMMEDIATE_ONE = ImmediateRetry("test-immediate", attempts=1, base_seconds=0, jitter=0.0)


def r() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@job(queue=Queue.DEFAULT, retry=RetryPolicy.NONE)
def record(envelope: Envelope) -> str:
    r().rpush("tq:ran", envelope.data["marker"])
    return envelope.data["marker"]


@job(queue=Queue.DEFAULT, retry=FAST)
def flaky(envelope: Envelope) -> str:
    conn = r()
    runs = conn.incr("tq:flaky:runs")
    conn.rpush("tq:flaky:times", f"{time.time():.3f}")
    if runs <= envelope.data["fail_times"]:
        raise ConnectionError(f"transient failure {runs}")
    return "ok"


@job(queue=Queue.DEFAULT, retry=FAST)
def always_fails(envelope: Envelope) -> None:
    r().incr("tq:always:runs")
    raise RuntimeError("upstream said no")


@job(queue=Queue.DEFAULT, retry=FAST)
def permanent(envelope: Envelope) -> None:
    r().incr("tq:permanent:runs")
    raise PermanentFailure("repository was deleted")


@job(queue=Queue.DEFAULT, retry=ONE_RETRY)
def wants_retry_after(envelope: Envelope) -> str:
    conn = r()
    conn.rpush("tq:ra:times", f"{time.time():.3f}")
    if conn.incr("tq:ra:runs") == 1:
        raise RetryAfter(3)
    return "ok"


@job(queue=Queue.DEFAULT, retry=RetryPolicy.NONE, schema_version=2, accepted_versions=(2,))
def versioned(envelope: Envelope) -> str:
    return "ran"


@job(queue=Queue.REVIEWS_DEFAULT, retry=IMMEDIATE_ONE)
def killable(envelope: Envelope) -> None:
    """First attempt hangs (the test kills its worker); a retry completes, once."""
    conn = r()
    attempt = conn.incr("tq:killable:runs")
    conn.set("tq:killable:pid", os.getpid())
    if attempt == 1:
        time.sleep(60)
    with idempotent(f"{envelope.job_id}:complete") as first:
        if first:
            conn.incr("tq:killable:completed")


@job(queue=Queue.DEFAULT, retry=RetryPolicy.NONE)
def side_effect(envelope: Envelope) -> None:
    """Two of these race on one idempotency key; the effect must happen once."""
    conn = r()
    conn.incr("tq:side:attempts")
    with idempotent(envelope.data["key"]) as first:
        if first:
            time.sleep(0.5)  # hold the key's transaction open so the other worker must wait
            conn.incr("tq:side:effects")


@job(queue=Queue.REVIEWS_DEFAULT, retry=RetryPolicy.NONE)
def slow(envelope: Envelope) -> str:
    steps = envelope.data.get("steps", 20)
    for i in range(steps):
        report_progress(int(i * 100 / steps), f"step-{i}")
        r().set("tq:slow:at", i)
        time.sleep(envelope.data.get("pause", 0.2))
    report_progress(100, "done")
    return "done"


@job(queue=Queue.REVIEWS_DEFAULT, retry=RetryPolicy.NONE)
def fair(envelope: Envelope) -> None:
    r().rpush("tq:fair", f"{envelope.workspace_id}:{envelope.entity_ids['n']}")
    time.sleep(envelope.data.get("pause", 0))


@job(queue=Queue.DEFAULT, retry=RetryPolicy.NONE)
def leaky(envelope: Envelope) -> None:
    raise RuntimeError("boom")


@job(queue=Queue.REVIEWS_DEFAULT, retry=RetryPolicy.NONE)
def hangs(envelope: Envelope) -> None:
    """Hangs until its worker is killed; with no retries left it must become a dead letter."""
    r().set("tq:hangs:started", 1)
    time.sleep(60)
