"""The SLA monitor: is any queue's oldest waiting job older than the queue's SLA wait?

Runs every minute as a cron job on `system` (queues.jobs.monitor_sla, schedule
`queues.sla_monitor`). For each queue it compares the oldest waiting job's wait with the queue's
`sla_wait_seconds`; on a breach it logs `queue.sla_breach` (warning), and for every queue it sets
the `sentinel_queue_sla_breached{queue}` gauge (1/0). `queue_sla_breached` fires once per breached
queue per check (receivers: alerting, the operator console). Jobs held back by the per-workspace
concurrency limit wait in rq's rate-limit registry, not in the queue, by design: they do not
count as waiting here.
"""

from __future__ import annotations

from typing import Any

import structlog
from redis import Redis

from queues import keys, metrics
from queues.health import queue_waits
from queues.signals import queue_sla_breached
from queues.topology import Queue

log = structlog.get_logger("queues.sla")


def check(connection: Redis | None = None) -> list[dict[str, Any]]:
    """Check every queue now; returns the breaches [{queue, oldest_wait_seconds, sla_seconds, depth}]."""
    from queues.connection import get_redis

    connection = connection or get_redis()
    waits = queue_waits(connection)
    breaches = []
    state: dict[str, str] = {}
    for queue in Queue.by_priority():
        depth, wait = waits[queue.queue_name]
        breached = wait is not None and wait > queue.sla_wait_seconds
        metrics.SLA_BREACHED.labels(queue=queue.queue_name).set(1 if breached else 0)
        state[queue.queue_name] = "1" if breached else "0"
        if not breached:
            continue
        breach = {
            "queue": queue.queue_name,
            "oldest_wait_seconds": wait,
            "sla_seconds": queue.sla_wait_seconds,
            "depth": depth,
        }
        breaches.append(breach)
        log.warning("queue.sla_breach", **breach)
        queue_sla_breached.send(
            sender=None, queue=queue, oldest_wait_seconds=wait, sla_seconds=queue.sla_wait_seconds
        )
    connection.hset(keys.SLA_STATE, mapping=state)
    return breaches
