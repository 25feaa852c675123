"""Helpers for tests of jobs (any app): run queued jobs through the real worker code, in-process.

    from queues.testing import drain
    drain()                       # every queue, until empty (burst), non-forking

For behaviour that depends on processes (kills, stop, priorities between workers), start real
worker processes with `manage.py run_workers --queues ...` as tests/queues does.
"""

from __future__ import annotations

from collections.abc import Iterable

from queues.connection import get_redis, get_rq_queue
from queues.topology import Queue


def drain(queues: Iterable[Queue] | None = None, *, with_scheduler: bool = False) -> bool:
    """Run every job waiting on `queues` (default: all, in priority order) with a burst worker."""
    from queues.worker import SentinelSimpleWorker

    connection = get_redis()
    targets = [get_rq_queue(q, connection) for q in (queues or Queue.by_priority())]
    worker = SentinelSimpleWorker(targets, connection=connection)
    return worker.work(burst=True, with_scheduler=with_scheduler)
