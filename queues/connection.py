"""The Redis connection and rq objects every part of the platform shares."""

from __future__ import annotations

import django_rq
from redis import Redis
from rq import Queue as RQQueue
from rq.job import Job

from queues.topology import Queue


class SentinelJob(Job):
    """rq's Job, plus one transient field: a `RetryAfter` delay for the next retry.

    The lifecycle sets `_retry_after` on the running job when the job raises RetryAfter; rq's
    failure handling (same process) then asks `get_retry_interval()` and schedules the retry
    after that delay instead of the policy's interval. The field is never saved to Redis.
    """

    _retry_after: int | None = None

    def get_retry_interval(self) -> int:
        if self._retry_after:
            return self._retry_after
        return super().get_retry_interval()


_client: Redis | None = None


def get_redis() -> Redis:
    """The process's one Redis client (its pool is thread-safe and resets itself after a fork).

    django-rq builds a new client, and so a new connection with its handshake, on every call;
    dispatching in a loop then paid a TCP connect per job (bench/bench_job_lifecycle.py).
    """
    global _client
    if _client is None:
        _client = django_rq.get_connection("default")
    return _client


def get_rq_queue(queue: Queue | str, connection: Redis | None = None) -> RQQueue:
    name = queue.queue_name if isinstance(queue, Queue) else queue
    spec = queue if isinstance(queue, Queue) else Queue.from_name(name)
    return RQQueue(
        name,
        connection=connection or get_redis(),
        job_class=SentinelJob,
        default_timeout=spec.default_timeout,
    )
