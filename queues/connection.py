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


def get_redis() -> Redis:
    return django_rq.get_connection("default")


def get_rq_queue(queue: Queue | str, connection: Redis | None = None) -> RQQueue:
    name = queue.queue_name if isinstance(queue, Queue) else queue
    spec = queue if isinstance(queue, Queue) else Queue.from_name(name)
    return RQQueue(
        name,
        connection=connection or get_redis(),
        job_class=SentinelJob,
        default_timeout=spec.default_timeout,
    )
