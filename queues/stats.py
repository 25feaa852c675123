"""Per-minute throughput and wait counters per queue, kept in Redis for 24 hours.

One hash per queue and minute (`sentinel:stats:<queue>:<epoch minute>`) with `completed`,
`failed`, `retried`, `throttled`, `jobs` (all outcomes) and `wait_ms` (sum over `jobs`), written once
per job in one round trip; the operator dashboard draws `series()`.
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis

RETENTION_SECONDS = 25 * 3600
PREFIX = "sentinel:stats"


def _key(queue: str, minute: int) -> str:
    return f"{PREFIX}:{queue}:{minute}"


def record(connection: Redis, queue: str, *, field: str, wait_ms: int | None = None) -> None:
    minute = int(time.time() // 60)
    key = _key(queue, minute)
    pipe = connection.pipeline(transaction=False)
    pipe.hincrby(key, field, 1)
    pipe.hincrby(key, "jobs", 1)
    if wait_ms is not None:
        pipe.hincrby(key, "wait_ms", max(0, int(wait_ms)))
    pipe.expire(key, RETENTION_SECONDS)
    pipe.execute()


def series(connection: Redis, queue: str, minutes: int = 1440) -> list[dict[str, Any]]:
    """Oldest first: [{"minute": epoch_minute, "jobs", "completed", "failed", ..., "avg_wait_ms"}]."""
    now_minute = int(time.time() // 60)
    minutes_list = list(range(now_minute - minutes + 1, now_minute + 1))
    pipe = connection.pipeline(transaction=False)
    for minute in minutes_list:
        pipe.hgetall(_key(queue, minute))
    rows = []
    for minute, raw in zip(minutes_list, pipe.execute(), strict=True):
        values = {k.decode(): int(v) for k, v in raw.items()}
        jobs = values.get("jobs", 0)
        rows.append(
            {
                "minute": minute,
                "jobs": jobs,
                "completed": values.get("completed", 0),
                "failed": values.get("failed", 0),
                "retried": values.get("retried", 0),
                "throttled": values.get("throttled", 0),
                "avg_wait_ms": (values.get("wait_ms", 0) / jobs) if jobs else None,
            }
        )
    return rows
