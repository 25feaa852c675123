"""Sentinel's rq workers: rq's own Worker / SimpleWorker plus the platform's failure handling.

- Settings give the timing that makes abandoned work come back fast (docs/operations.md):
  a job's heartbeat lives `min(timeout left, monitoring interval) + grace` seconds, maintenance
  runs every `SENTINEL_WORKER_MAINTENANCE_INTERVAL` seconds and an idle worker wakes at least
  that often (`worker_ttl`), so a dead worker's job is retried well within 90 s.
- The last failure of a job, whatever its cause (exception, timeout, killed work-horse, abandoned
  job found by maintenance), becomes a DeadLetter here. A job stopped or cancelled on request
  never does.
- The forking worker closes Django's DB connections before each fork, so a work-horse never
  shares its parent's socket.
"""

from __future__ import annotations

import os
from typing import Any

import structlog
from django.conf import settings
from django.db import connections
from rq import SimpleWorker, Worker
from rq.exceptions import AbandonedJobError
from rq.job import Job

from queues import lifecycle, metrics
from queues.connection import SentinelJob, get_redis
from queues.control import is_cancel_requested

log = structlog.get_logger("queues.worker")


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


class SentinelWorkerMixin:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("job_class", SentinelJob)
        kwargs.setdefault("maintenance_interval", _setting("SENTINEL_WORKER_MAINTENANCE_INTERVAL", 10))
        kwargs.setdefault("job_monitoring_interval", _setting("SENTINEL_WORKER_JOB_MONITORING_INTERVAL", 10))
        kwargs.setdefault("worker_ttl", _setting("SENTINEL_WORKER_TTL", 25))
        kwargs.setdefault("log_job_description", False)
        if kwargs.get("connection") is None:
            kwargs["connection"] = get_redis()
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.push_exc_handler(self._dead_letter_handler)  # type: ignore[attr-defined]

    @property
    def heartbeat_grace(self) -> int:
        return _setting("SENTINEL_WORKER_HEARTBEAT_GRACE", 20)

    def _dead_letter_handler(self, job: Job, exc_type: type, exc_value: BaseException, tb: Any) -> bool:
        """rq exception handler: runs for raised errors (in the horse) and abandoned jobs (maintenance)."""
        try:
            if getattr(self, "_stopped_job_id", None) == job.id or is_cancel_requested(job.connection, job.id):
                return True
            abandoned = exc_type is AbandonedJobError or isinstance(exc_value, AbandonedJobError)
            if abandoned:
                self._log_failure(job, "AbandonedJobError: worker died while running the job")
            if lifecycle.will_retry(job):
                return True
            import traceback as tb_module

            error = f"{exc_type.__name__}: {exc_value}" if exc_type else str(exc_value)
            text = "".join(tb_module.format_exception(exc_type, exc_value, tb)) if tb is not None else ""
            from queues.deadletters import record_dead_letter

            record_dead_letter(job=job, error=error, traceback=text)
        except Exception:  # noqa: BLE001 - never break rq's own failure handling
            log.exception("job.dead_letter_failed", job_id=job.id)
        return True

    def _log_failure(self, job: Job, error: str) -> None:
        envelope = {}
        try:
            envelope = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
        except Exception:  # noqa: BLE001
            envelope = {}
        log.warning(
            "job.failed",
            job_id=job.id,
            queue=job.origin,
            job_name=job.func_name if job.func_name else None,
            correlation_id=envelope.get("correlation_id"),
            workspace_id=envelope.get("workspace_id"),
            entity_ids=envelope.get("entity_ids"),
            attempt=lifecycle.attempt_number(job),
            error=error,
            will_retry=lifecycle.will_retry(job),
        )

    def handle_work_horse_killed(self, job: Job, retpid: Any, ret_val: Any, rusage: Any) -> None:
        """The horse died without reporting (OOM killer, SIGKILL): log it; dead-letter if final."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)  # type: ignore[misc]
        error = f"Work-horse terminated unexpectedly (waitpid status {ret_val})"
        self._log_failure(job, error)
        if not lifecycle.will_retry(job) and not is_cancel_requested(job.connection, job.id):
            from queues.deadletters import record_dead_letter

            try:
                record_dead_letter(job=job, error=error)
            except Exception:  # noqa: BLE001
                log.exception("job.dead_letter_failed", job_id=job.id)


class SentinelWorker(SentinelWorkerMixin, Worker):
    """Forking worker: each job in its own work-horse (isolation, hard timeouts, stop command)."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(max(1, min(remaining, self.job_monitoring_interval))) + self.heartbeat_grace
        return self.job_monitoring_interval + self.heartbeat_grace

    def fork_work_horse(self, job: Job, queue: Any) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Any) -> None:
        # One set of metrics files per worker, not per job (queues.metrics).
        metrics.use_worker_identity(os.getppid())
        super().main_work_horse(job, queue)


class SentinelSimpleWorker(SentinelWorkerMixin, SimpleWorker):
    """Non-forking worker for short jobs (critical pool): ~4x the throughput of forking (bench/).

    No heartbeat is sent while a job runs, so the job's heartbeat must cover its whole timeout.
    """

    @property
    def heartbeat_grace(self) -> int:
        # The job cannot outlive its timeout here (rq's SIGALRM death penalty), so the grace only
        # covers failure handling after it: shorter than the forking workers', which keeps a
        # `system` job (60 s timeout) of a dead worker retried within 90 s.
        return _setting("SENTINEL_SIMPLE_WORKER_HEARTBEAT_GRACE", 10)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        timeout = job.timeout if job.timeout and job.timeout > 0 else self.worker_ttl
        return int(timeout) + self.heartbeat_grace
