"""Prometheus metrics (multiprocess mode: web and every worker process write to one directory).

Labels are queues and statuses, never workspaces (unbounded cardinality). Queue depth and
dead-letter counts are read from Redis/PostgreSQL when /metrics is scraped (queues.views), so they
are never stale and need no writer.

Forking workers run each job in a new work-horse process. prometheus-client names its files by
pid, which would leave one set of files per job ever run; `use_worker_identity()` (called in the
horse) makes a horse write the files of its worker instead. That is safe because one worker runs
one horse at a time and the worker process itself records no metrics.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram, values

_identity: dict[str, str | None] = {"value": None}


def _process_identifier() -> int | str:
    return _identity["value"] or os.getpid()


def use_worker_identity(worker_pid: int) -> None:
    """In a work-horse: write metrics under the worker's identity, not the horse's own pid."""
    _identity["value"] = f"worker{worker_pid}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)

JOBS_TOTAL = Counter("sentinel_jobs_total", "Jobs by outcome.", ["queue", "status"])
JOB_DURATION = Histogram(
    "sentinel_job_duration_seconds",
    "Job run time.",
    ["queue"],
    buckets=(0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 120, 300, 600, 900),
)
JOB_WAIT = Histogram(
    "sentinel_job_wait_seconds",
    "Time from enqueue to start.",
    ["queue"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 10, 15, 30, 45, 60, 120, 300, 600, 1800),
)
SLA_BREACHED = Gauge(
    "sentinel_queue_sla_breached",
    "1 when the SLA monitor last saw the queue's oldest job waiting beyond its SLA.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
