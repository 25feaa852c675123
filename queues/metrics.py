"""Prometheus metrics (multiprocess mode: web and every worker process write to one directory).

Labels are queues and statuses, never workspaces (unbounded cardinality). Queue depth, oldest wait
and dead-letter counts are read from Redis/PostgreSQL when /metrics is scraped, so they are never
stale and need no writer.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
