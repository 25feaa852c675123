"""The job platform's health, as one dict: `collect_health()`.

Used by `manage.py queue_health` (table/JSON, exit code) and the operator console's dashboard.
It never raises: a part that cannot be read is reported as not ok with its error, and the rest is
still filled in. Everything comes from a handful of Redis round trips (pipelines) and two SQL
queries, so it is cheap enough to call on every dashboard load.

Shape (the contract with the operator console; keys are fixed):

    {
      "healthy": bool,                 # redis ok, postgres ok, scheduler alive, no SLA breach
      "checked_at": ISO-8601,
      "redis": {"ok", "used_memory_bytes", "error"},
      "postgres": {"ok", "error"},
      "queues": [{"name", "priority", "depth", "oldest_wait_seconds", "sla_seconds",
                  "sla_breached", "workers", "failed", "dead_letters", "jobs_per_minute",
                  "failure_rate", "p95_run_seconds"}, ...],   # in priority order
      "scheduler": {"alive", "last_seen"},                     # last_seen: ISO-8601 or None
      "reconciler": {"last_run"},                              # ISO-8601 or None
      "dead_letters": {"open", "by_queue"},                    # pending dead letters
    }

`jobs_per_minute`, `failure_rate` and `p95_run_seconds` cover the last hour (queues.stats).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Count
from redis import Redis
from rq.utils import utcparse

from queues import keys, stats
from queues.topology import Queue

QUEUE_KEY = "rq:queue:{}"
JOB_KEY = "rq:job:{}"
FAILED_KEY = "rq:failed:{}"
WORKERS_KEY = "rq:workers:{}"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def health_connection() -> Redis:
    """A connection with short timeouts: a hung Redis must make health fail fast, not hang."""
    return Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


def _empty_queue(queue: Queue) -> dict[str, Any]:
    return {
        "name": queue.queue_name,
        "priority": queue.priority,
        "depth": None,
        "oldest_wait_seconds": None,
        "sla_seconds": queue.sla_wait_seconds,
        "sla_breached": False,
        "workers": None,
        "failed": None,
        "dead_letters": 0,
        "jobs_per_minute": None,
        "failure_rate": None,
        "p95_run_seconds": None,
    }


def queue_waits(connection: Redis, now: float | None = None) -> dict[str, tuple[int, float | None]]:
    """{queue name: (depth, oldest wait in seconds or None)} in two round trips (the SLA monitor uses it)."""
    now = time.time() if now is None else now
    queues = Queue.by_priority()
    pipe = connection.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(QUEUE_KEY.format(queue.queue_name))
        pipe.lindex(QUEUE_KEY.format(queue.queue_name), 0)
    raw = pipe.execute()
    depths = raw[0::2]
    heads = [_text(v) for v in raw[1::2]]
    pipe = connection.pipeline(transaction=False)
    for head in heads:
        pipe.hget(JOB_KEY.format(head or "-"), "enqueued_at")
    enqueued = pipe.execute()
    result: dict[str, tuple[int, float | None]] = {}
    for queue, depth, head, enq in zip(queues, depths, heads, enqueued, strict=True):
        wait = None
        if head and enq:
            try:
                wait = max(0.0, round(now - utcparse(_text(enq) or "").replace(tzinfo=UTC).timestamp(), 3))
            except ValueError:
                wait = None
        result[queue.queue_name] = (int(depth), wait)
    return result


def _redis_part(connection: Redis, queues: list[dict[str, Any]], now: float) -> dict[str, Any]:
    info = connection.info("memory")
    names = [q["name"] for q in queues]
    waits = queue_waits(connection, now)
    pipe = connection.pipeline(transaction=False)
    for name in names:
        pipe.zcount(FAILED_KEY.format(name), now, "+inf")  # score = expiry: count the unexpired
        pipe.smembers(WORKERS_KEY.format(name))
    raw = pipe.execute()
    failed_counts = raw[0::2]
    worker_sets = [{_text(m) for m in members} for members in raw[1::2]]
    # A killed worker stays in the set until maintenance cleans it: count only live worker hashes.
    all_workers = sorted(set().union(*worker_sets)) if worker_sets else []
    pipe = connection.pipeline(transaction=False)
    for key in all_workers:
        pipe.exists(key)
    live = {key for key, exists in zip(all_workers, pipe.execute(), strict=True) if exists}
    summary = stats.summary(connection, names, minutes=60)
    for row, failed, workers in zip(queues, failed_counts, worker_sets, strict=True):
        depth, wait = waits[row["name"]]
        row["depth"] = depth
        row["oldest_wait_seconds"] = wait
        row["sla_breached"] = wait is not None and wait > row["sla_seconds"]
        row["failed"] = int(failed)
        row["workers"] = len(workers & live)
        row.update(summary[row["name"]])
    heartbeat = connection.get(keys.SCHEDULER_HEARTBEAT)
    last_seen = float(heartbeat) if heartbeat else None
    reconciler_raw = connection.get(keys.RECONCILER_LAST_RUN)
    reconciler_last = json.loads(reconciler_raw).get("at") if reconciler_raw else None
    return {
        "used_memory_bytes": int(info.get("used_memory", 0)),
        "scheduler": {
            "alive": last_seen is not None and now - last_seen <= keys.SCHEDULER_STALE_SECONDS,
            "last_seen": _iso(last_seen),
        },
        "reconciler": {"last_run": reconciler_last},
    }


def collect_health(connection: Redis | None = None) -> dict[str, Any]:
    """The platform's health now (see the module docstring for the shape). Never raises."""
    from queues.models import DeadLetter

    now = time.time()
    queues = [_empty_queue(q) for q in Queue.by_priority()]
    result: dict[str, Any] = {
        "healthy": False,
        "checked_at": _iso(now),
        "redis": {"ok": False, "used_memory_bytes": None, "error": None},
        "postgres": {"ok": False, "error": None},
        "queues": queues,
        "scheduler": {"alive": False, "last_seen": None},
        "reconciler": {"last_run": None},
        "dead_letters": {"open": None, "by_queue": {}},
    }
    try:
        part = _redis_part(connection or health_connection(), queues, now)
    except Exception as exc:  # noqa: BLE001 - report, never raise
        result["redis"]["error"] = f"{type(exc).__name__}: {exc}"
    else:
        result["redis"].update(ok=True, used_memory_bytes=part["used_memory_bytes"])
        result["scheduler"] = part["scheduler"]
        result["reconciler"] = part["reconciler"]
    try:
        rows = (
            DeadLetter.objects.filter(status=DeadLetter.Status.PENDING)
            .values("queue")
            .annotate(n=Count("id"))
            .order_by("queue")
        )
        by_queue = {row["queue"]: row["n"] for row in rows}
    except Exception as exc:  # noqa: BLE001
        result["postgres"]["error"] = f"{type(exc).__name__}: {exc}"
        connections["default"].close_if_unusable_or_obsolete()
    else:
        result["postgres"]["ok"] = True
        result["dead_letters"] = {"open": sum(by_queue.values()), "by_queue": by_queue}
        for row in queues:
            row["dead_letters"] = by_queue.get(row["name"], 0)
    result["healthy"] = bool(
        result["redis"]["ok"]
        and result["postgres"]["ok"]
        and result["scheduler"]["alive"]
        and not any(q["sla_breached"] for q in queues)
    )
    return result


def problems(health: dict[str, Any]) -> list[str]:
    """Why a health dict is not healthy, in words (the command prints them)."""
    found = []
    if not health["redis"]["ok"]:
        found.append(f"redis: {health['redis']['error']}")
    if not health["postgres"]["ok"]:
        found.append(f"postgres: {health['postgres']['error']}")
    if health["redis"]["ok"] and not health["scheduler"]["alive"]:
        found.append(f"scheduler: not alive (last seen {health['scheduler']['last_seen'] or 'never'})")
    for q in health["queues"]:
        if q["sla_breached"]:
            found.append(f"queue {q['name']}: oldest job waited {q['oldest_wait_seconds']:.0f}s > SLA {q['sla_seconds']}s")
    return found
