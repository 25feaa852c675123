"""The job lifecycle, in one place: every declared job runs through `run()`.

In the worker process (the work-horse for forking pools), around the job function:
bind `correlation_id`, `job_id`, `queue`, `workspace_id`, `attempt`, `job_name` to structlog's
context; close stale Django DB connections (a forked horse must never reuse its parent's socket);
check the envelope's schema version; take a token from the workspace's bucket (or re-schedule);
log `job.started` / `job.completed` / `job.failed` with the seed's fields; record Prometheus
metrics and the per-minute Redis series; translate RetryAfter / PermanentFailure / JobCancelled.

Dead letters are not written here but by the worker's exception handler (queues.worker), because
that is also where rq reports jobs that die without raising (abandoned, killed work-horse).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from django.db import close_old_connections
from rq import Retry, get_current_job
from rq.job import Job

from queues import concurrency, metrics, stats
from queues.declaration import JobSpec
from queues.envelope import Envelope
from queues.exceptions import JobCancelled, PermanentFailure, RetryAfter, UnknownSchemaVersion
from queues.topology import Queue
from sentinel.logging import mask_value

log = structlog.get_logger("queues.job")

# A throttled job returns rq's Retry; its count is separate from the failure retries, so a
# throttled job never spends its retry budget. This bounds how long it can keep being re-scheduled.
THROTTLE_MAX_RESCHEDULES = 1000


def attempt_number(job: Job | None) -> int:
    """1 for the first run, 2 for the first retry... (intervals are exactly as long as the attempts)."""
    if job is None or not job.retry_intervals or job.retries_left is None:
        return 1
    return len(job.retry_intervals) - job.retries_left + 1


def will_retry(job: Job | None) -> bool:
    return bool(job is not None and job.retries_left and job.retries_left > 0)


def summarize(result: Any) -> Any:
    if result is None or isinstance(result, bool | int | float):
        return result
    if isinstance(result, dict):
        text = repr(mask_value(result))
    else:
        text = repr(result)
    return text if len(text) <= 200 else text[:197] + "..."


def _wait_seconds(job: Job | None) -> float | None:
    if job is None or job.enqueued_at is None:
        return None
    started = job.started_at or job.enqueued_at
    return max(0.0, (started - job.enqueued_at).total_seconds())


def run(spec: JobSpec, func: Callable[[Envelope], Any], raw: dict[str, Any]) -> Any:
    job = get_current_job()
    envelope = Envelope.from_dict(raw)
    queue_name = job.origin if job is not None else spec.queue.queue_name
    context = {
        "correlation_id": envelope.correlation_id,
        "job_id": job.id if job is not None else envelope.job_id,
        "queue": queue_name,
        "workspace_id": envelope.workspace_id,
        "attempt": attempt_number(job),
        "job_name": spec.name,
        "entity_ids": envelope.entity_ids,
    }
    close_old_connections()
    with structlog.contextvars.bound_contextvars(**context):
        try:
            return _run_bound(spec, func, envelope, job, queue_name)
        finally:
            close_old_connections()


def _record(
    job: Job | None, queue_name: str, outcome: str, wait: float | None, duration_ms: float | None = None
) -> None:
    metrics.JOBS_TOTAL.labels(queue=queue_name, status=outcome).inc()
    if job is not None:
        try:
            stats.record(
                job.connection,
                queue_name,
                field=outcome,
                wait_ms=None if wait is None else wait * 1000,
                duration_ms=duration_ms,
            )
        except Exception:  # noqa: BLE001 - statistics must never fail a job
            log.warning("job.stats_failed", exc_info=True)


def _run_bound(spec: JobSpec, func: Callable[[Envelope], Any], envelope: Envelope, job: Job | None, queue_name: str) -> Any:
    if envelope.schema_version not in spec.accepted_versions:
        error = UnknownSchemaVersion(
            f"{spec.name} accepts schema versions {sorted(spec.accepted_versions)}, got {envelope.schema_version}"
        )
        _fail(job, queue_name, error, duration_ms=0, wait=_wait_seconds(job))
        raise error

    if job is not None and spec.throttle and envelope.workspace_id is not None:
        delay = concurrency.take_token(job.connection, workspace_id=envelope.workspace_id, queue=Queue.from_name(queue_name))
        if delay:
            log.info("job.throttled", retry_in_s=delay)
            _record(job, queue_name, "throttled", None)
            return Retry(max=THROTTLE_MAX_RESCHEDULES, interval=int(delay))

    wait = _wait_seconds(job)
    if wait is not None:
        metrics.JOB_WAIT.labels(queue=queue_name).observe(wait)
    log.info("job.started", wait_ms=None if wait is None else round(wait * 1000))
    started = time.monotonic()
    try:
        result = func(envelope)
    except JobCancelled:
        duration_ms = round((time.monotonic() - started) * 1000)
        log.info("job.cancelled", duration_ms=duration_ms)
        _record(job, queue_name, "cancelled", wait)
        return None
    except BaseException as exc:
        duration_ms = round((time.monotonic() - started) * 1000)
        metrics.JOB_DURATION.labels(queue=queue_name).observe(duration_ms / 1000)
        _fail(job, queue_name, exc, duration_ms=duration_ms, wait=wait)
        raise
    duration_ms = round((time.monotonic() - started) * 1000)
    metrics.JOB_DURATION.labels(queue=queue_name).observe(duration_ms / 1000)
    log.info(
        "job.completed",
        duration_ms=duration_ms,
        result=summarize(result),
    )
    _record(job, queue_name, "completed", wait, duration_ms)
    return result


def _fail(job: Job | None, queue_name: str, exc: BaseException, *, duration_ms: int, wait: float | None) -> None:
    """Steer rq's failure handling (same process, right after we re-raise) and log the failure."""
    if job is not None:
        # Remember the real attempt before steering rq (the dead letter reports it).
        job._attempt = attempt_number(job)  # type: ignore[attr-defined]
        if isinstance(exc, PermanentFailure):
            job.retries_left = 0  # deterministic: no retry, straight to the dead letters
        elif isinstance(exc, RetryAfter) and will_retry(job):
            job._retry_after = exc.seconds  # type: ignore[attr-defined]
    retrying = will_retry(job)
    log.warning(
        "job.failed",
        error=f"{type(exc).__name__}: {exc}",
        error_type=type(exc).__name__,
        duration_ms=duration_ms,
        will_retry=retrying,
        retry_in_s=job.get_retry_interval() if retrying and job is not None else None,
    )
    _record(job, queue_name, "retried" if retrying else "failed", wait, duration_ms)
