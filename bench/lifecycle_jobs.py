"""The no-op jobs bench_job_lifecycle.py runs (importable by dotted path, as rq requires)."""

from __future__ import annotations

from queues.declaration import job
from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue


def bare_noop() -> None:
    return None


@job(queue=Queue.DEFAULT, retry=RetryPolicy.DATABASE)
def lifecycle_noop(envelope: Envelope) -> None:
    return None
