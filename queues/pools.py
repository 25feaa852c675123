"""Worker pools ("supervisors", as Horizon calls them), declared in code.

Each pool lists its queues in priority order, so each of its workers serves them by strict
priority (rq takes from the first non-empty queue). Process counts default to values fit for a
small machine and are overridden per pool with `SENTINEL_POOL_<NAME>_WORKERS` (env).
The critical pool uses rq's non-forking SimpleWorker: its jobs are short and it is where
throughput matters; the others fork a work-horse per job (isolation, hard timeouts, stop command).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from queues.topology import Queue

FORK = "fork"
SIMPLE = "simple"


@dataclass(frozen=True)
class Pool:
    name: str
    queues: tuple[Queue, ...]
    default_processes: int
    worker: str = FORK

    @property
    def queue_names(self) -> list[str]:
        return [q.queue_name for q in sorted(self.queues, key=lambda q: q.priority)]

    @property
    def processes(self) -> int:
        return int(os.environ.get(f"SENTINEL_POOL_{self.name.upper()}_WORKERS", self.default_processes))

    @property
    def worker_class(self) -> type:
        from queues.worker import SentinelSimpleWorker, SentinelWorker

        return SentinelSimpleWorker if self.worker == SIMPLE else SentinelWorker


POOLS: dict[str, Pool] = {
    pool.name: pool
    for pool in (
        Pool("critical", (Queue.SYSTEM, Queue.WEBHOOKS), 1, SIMPLE),
        # The seed's dedicated enterprise workers: nothing else competes for them.
        Pool("enterprise", (Queue.REVIEWS_ENTERPRISE,), 1),
        Pool(
            "reviews",
            (
                Queue.REVIEWS_ENTERPRISE,
                Queue.REVIEWS_PAID,
                Queue.REVIEWS_DEFAULT,
                Queue.BRIEFINGS_DEFAULT,
                Queue.COMMANDS,
                Queue.ANNOTATIONS,
            ),
            1,
        ),
        Pool("default", (Queue.NOTIFICATIONS, Queue.SYNC, Queue.DEFAULT), 1),
        Pool("background", (Queue.CODE_INDEXING, Queue.LONG_RUNNING, Queue.BULK), 1),
    )
}


def pools_serving(queue: Queue) -> list[Pool]:
    return [pool for pool in POOLS.values() if queue in pool.queues]
