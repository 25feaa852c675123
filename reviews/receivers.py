"""Listeners of the reviews app: its own run events (queue PostAnnotations) and the job platform's
events about review jobs (progress mirrored on the run, cancelled and dead-lettered jobs end the run).
"""

from __future__ import annotations

from typing import Any

import structlog

from reviews.models import ACTIVE_STATUSES, RunStatus

log = structlog.get_logger("reviews.receivers")

EXECUTE_JOB = "reviews.jobs.execute_review_run"
RELEASE_JOB = "reviews.jobs.release_review_run"
RUN_JOBS = frozenset({EXECUTE_JOB, RELEASE_JOB})


def queue_annotations(sender: Any, run: Any, **kwargs: Any) -> None:
    """Every finished run is reported on its pull request (review, summary, status)."""
    from reviews.services import dispatch_annotations

    dispatch_annotations(run)


def mirror_progress(sender: Any, job_name: str | None = None, envelope: Any = None, percent: int = 0,
                    step: str = "", **kwargs: Any) -> None:
    if job_name != EXECUTE_JOB or envelope is None:
        return
    from reviews.services import record_progress

    run_id = envelope.entity_ids.get("review_run_id")
    if run_id is not None:
        record_progress(run_id=run_id, percent=percent, step=step)


def job_was_cancelled(sender: Any, job_name: str | None = None, envelope: Any = None, **kwargs: Any) -> None:
    """A review job cancelled from outside the reviews app (rq dashboard, operator): end the run."""
    if job_name not in RUN_JOBS or envelope is None:
        return
    from reviews import state

    run_id = envelope.entity_ids.get("review_run_id")
    if run_id is not None:
        state.transition(run_id, to=RunStatus.CANCELLED, from_=ACTIVE_STATUSES, cancelled_by="job cancelled")


def job_dead_lettered(sender: Any, dead_letter: Any = None, **kwargs: Any) -> None:
    """The run's job failed for good (retries spent, worker killed on the last attempt): fail the run."""
    if dead_letter is None or dead_letter.job_name not in RUN_JOBS:
        return
    from reviews.execution import fail_run

    run_id = (dead_letter.payload or {}).get("entity_ids", {}).get("review_run_id")
    if run_id is None:
        return
    failed = fail_run(
        int(run_id),
        code="job_failed",
        message=f"The review job failed after its retries: {dead_letter.error[:500]}",
        from_=tuple(ACTIVE_STATUSES),
    )
    if failed is not None:
        log.warning("review_run.failed_by_dead_letter", run_id=run_id, dead_letter_id=dead_letter.pk)
