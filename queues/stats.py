"""Per-minute throughput and wait counters per queue, kept in Redis for 24 hours.

One hash per queue and minute (`sentinel:stats:<queue>:<epoch minute>`) with `completed`,
`failed`, `retried`, `throttled`, `jobs` (all outcomes), `wait_ms` (sum over `jobs`) and a coarse
run-time histogram (`d:<bucket upper bound>` counts, for the p95 in `queue_health`), written once
per job in one round trip; the operator dashboard draws `series()`.
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis

RETENTION_SECONDS = 25 * 3600
PREFIX = "sentinel:stats"
# Upper bounds (seconds) of the run-time histogram; "inf" catches the rest.
DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900)


def _key(queue: str, minute: int) -> str:
    return f"{PREFIX}:{queue}:{minute}"


def _bucket(seconds: float) -> str:
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return f"d:{bound:g}"
    return "d:inf"


def record(
    connection: Redis, queue: str, *, field: str, wait_ms: float | None = None, duration_ms: float | None = None
) -> None:
    minute = int(time.time() // 60)
    key = _key(queue, minute)
    pipe = connection.pipeline(transaction=False)
    pipe.hincrby(key, field, 1)
    pipe.hincrby(key, "jobs", 1)
    if wait_ms is not None:
        pipe.hincrby(key, "wait_ms", max(0, int(wait_ms)))
    if duration_ms is not None:
        pipe.hincrby(key, _bucket(duration_ms / 1000), 1)
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
        values = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
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


def summary(connection: Redis, queues: list[str], minutes: int = 60) -> dict[str, dict[str, Any]]:
    """Per queue over the last `minutes` (this one included), in one round trip:
    {"jobs_per_minute", "failure_rate" (failed / (completed + failed), None without any),
    "p95_run_seconds" (upper bound of the histogram bucket holding the 95th percentile, None without data)}.
    """
    now_minute = int(time.time() // 60)
    minutes_list = list(range(now_minute - minutes + 1, now_minute + 1))
    pipe = connection.pipeline(transaction=False)
    for queue in queues:
        for minute in minutes_list:
            pipe.hgetall(_key(queue, minute))
    raw_rows = pipe.execute()
    result: dict[str, dict[str, Any]] = {}
    for index, queue in enumerate(queues):
        totals: dict[str, int] = {}
        for raw in raw_rows[index * minutes : (index + 1) * minutes]:
            for k, v in raw.items():
                name = k.decode() if isinstance(k, bytes) else k
                totals[name] = totals.get(name, 0) + int(v)
        done = totals.get("completed", 0) + totals.get("failed", 0)
        result[queue] = {
            "jobs_per_minute": round((totals.get("completed", 0) + totals.get("failed", 0)) / minutes, 2),
            "failure_rate": round(totals.get("failed", 0) / done, 4) if done else None,
            "p95_run_seconds": _p95(totals),
        }
    return result


def _p95(totals: dict[str, int]) -> float | None:
    bounds = [*DURATION_BUCKETS, float("inf")]
    counts = [totals.get(f"d:{b:g}", 0) for b in DURATION_BUCKETS] + [totals.get("d:inf", 0)]
    total = sum(counts)
    if not total:
        return None
    running = 0
    for bound, count in zip(bounds, counts, strict=True):
        running += count
        if running >= 0.95 * total:
            return None if bound == float("inf") else float(bound)
    return None
