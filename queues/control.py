"""Progress and cancellation of jobs.

`report_progress(percent, step)` (inside a job) stores progress in `job.meta` at most once per
`SENTINEL_PROGRESS_MIN_INTERVAL` seconds (always for 0 and 100 and a new step), logs
`job.progress` and sends `job_progress` so the domain can mirror it on its entity. It also raises
JobCancelled once the job was cancelled, which makes cancellation of a running job cooperative
as well as forced.

`cancel(job_id)` cancels a queued/scheduled/waiting job, or stops a running one with rq's stop
command (forking pools; on the non-forking critical pool the job stops at its next progress
report), and sends `job_cancelled`.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.conf import settings
from redis import Redis
from rq import get_current_job
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import JobStatus

from queues.envelope import Envelope
from queues.exceptions import JobCancelled
from queues.signals import job_cancelled, job_progress

log = structlog.get_logger("queues.job")

CANCEL_PREFIX = "sentinel:cancel:"
CANCEL_TTL = 24 * 3600


def is_cancel_requested(connection: Redis, job_id: str) -> bool:
    return bool(connection.exists(CANCEL_PREFIX + job_id))


def check_cancelled() -> None:
    """Raise JobCancelled inside a job that was cancelled (a cheap point to stop cleanly)."""
    job = get_current_job()
    if job is not None and is_cancel_requested(job.connection, job.id):
        raise JobCancelled(job.id)


_last_report: dict[str, tuple[float, str]] = {}


def report_progress(percent: int, step: str) -> None:
    """Record the running job's progress (0-100) and step; see the module docstring."""
    job = get_current_job()
    percent = max(0, min(100, int(percent)))
    if job is None:
        return
    if is_cancel_requested(job.connection, job.id):
        raise JobCancelled(job.id)
    now = time.monotonic()
    last = _last_report.get(job.id)
    min_interval = float(getattr(settings, "SENTINEL_PROGRESS_MIN_INTERVAL", 1.0))
    if last and last[1] == step and percent not in (0, 100) and now - last[0] < min_interval:
        return
    _last_report.clear()
    _last_report[job.id] = (now, step)
    job.meta["progress"] = {"percent": percent, "step": step, "at": time.time()}
    job.save_meta()
    log.info("job.progress", percent=percent, step=step)
    raw = job.args[0] if job.args and isinstance(job.args[0], dict) else None
    job_progress.send(
        sender=None,
        job_id=job.id,
        job_name=job.meta.get("job_name"),
        envelope=Envelope.from_dict(raw) if raw else None,
        percent=percent,
        step=step,
    )


def get_progress(job_id: str, connection: Redis | None = None) -> dict[str, Any] | None:
    """The last reported progress of a job, from any process."""
    from queues.connection import SentinelJob, get_redis

    try:
        job = SentinelJob.fetch(job_id, connection=connection or get_redis())
    except NoSuchJobError:
        return None
    return job.get_meta(refresh=False).get("progress")


def cancel(job_id: str, connection: Redis | None = None) -> str:
    """Cancel a job. Returns what happened: "cancelled", "stopping", "finished" or "missing"."""
    from queues.connection import SentinelJob, get_redis

    connection = connection or get_redis()
    try:
        job = SentinelJob.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return "missing"
    status = job.get_status()
    if status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED):
        return "finished"
    connection.set(CANCEL_PREFIX + job_id, "1", ex=CANCEL_TTL)
    was_running = status == JobStatus.STARTED
    outcome = "cancelled"
    if was_running:
        try:
            send_stop_job_command(connection, job_id)
        except InvalidJobOperation:
            pass
        outcome = "stopping"
    else:
        job.cancel()
    raw = job.args[0] if job.args and isinstance(job.args[0], dict) else None
    log.info("job.cancel_requested", job_id=job_id, was_running=was_running)
    job_cancelled.send(
        sender=None,
        job_id=job_id,
        job_name=job.meta.get("job_name"),
        envelope=Envelope.from_dict(raw) if raw else None,
        was_running=was_running,
    )
    return outcome
