"""Writes of the reviews domain: request, cancel and re-run review runs.

Everything that creates or changes a `ReviewRun` goes through here (API views, admin actions,
webhook routing, comment commands, `manage.py review_local`). Jobs are queued only after the
transaction that wrote the run commits (`queues.dispatch.dispatch`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.models import Repository
from integrations.source_control.base import PullRequestInfo
from queues.topology import Queue
from reviews import signals, state
from reviews.models import ACTIVE_STATUSES, ReviewRun, RunStatus, SkipReason, Trigger
from sentinel.correlation import get_correlation_id, new_correlation_id
from workspaces.exceptions import Conflict, ValidationFailed

log = structlog.get_logger("reviews.services")


def idempotency_key_for(*, repository_id: int, pr_number: int, head_sha: str, trigger_key: str) -> str:
    """The run's natural key: one run per repository + PR + head SHA + trigger key."""
    key = trigger_key if len(trigger_key) <= 80 else hashlib.sha256(trigger_key.encode()).hexdigest()
    return f"run:{repository_id}:{pr_number}:{head_sha}:{key}"


def pull_request_snapshot(pull_request: PullRequestInfo | None) -> dict[str, Any]:
    if pull_request is None:
        return {}
    data = asdict(pull_request)
    data["labels"] = list(data.get("labels") or ())
    return data


def pull_request_from_snapshot(data: dict[str, Any]) -> PullRequestInfo | None:
    if not data:
        return None
    fields = {k: v for k, v in data.items() if k in PullRequestInfo.__dataclass_fields__}
    fields["labels"] = tuple(fields.get("labels") or ())
    return PullRequestInfo(**fields)


def request_review(
    *,
    repository: Repository,
    pr_number: int,
    base_sha: str,
    head_sha: str,
    trigger: str,
    trigger_key: str = "",
    pull_request: PullRequestInfo | None = None,
    requested_by: Any = None,
) -> ReviewRun:
    """Create the review run for this head SHA (or return the existing one) and queue it.

    Idempotent: one run per repository + PR + head SHA + trigger key; a repeat returns the first
    run and queues nothing. A new head SHA supersedes the PR's queued/running runs of other SHAs
    (they end `skipped: superseded` and their jobs are cancelled). Webhook-triggered runs wait
    `SENTINEL_REVIEW_DEBOUNCE_SECONDS` before they are released to the workers, so a burst of
    pushes executes once: each push supersedes the previous run while it still waits.
    """
    return create_run(
        repository=repository,
        pr_number=pr_number,
        base_sha=base_sha,
        head_sha=head_sha,
        trigger=trigger,
        trigger_key=trigger_key,
        pull_request=pull_request,
        requested_by=requested_by,
    )


def create_run(
    *,
    repository: Repository,
    pr_number: int,
    base_sha: str,
    head_sha: str,
    trigger: str,
    trigger_key: str = "",
    pull_request: PullRequestInfo | None = None,
    requested_by: Any = None,
    actor: str = "",
    force_full: bool = False,
    rerun_of: ReviewRun | None = None,
    supersede: bool = True,
) -> ReviewRun:
    if trigger not in Trigger.values:
        raise ValidationFailed(f"Unknown trigger {trigger!r}.", fields={"trigger": [f"one of {Trigger.values}"]})
    if not head_sha or not base_sha:
        raise ValidationFailed("A review needs the base and head commit SHAs.")
    key = idempotency_key_for(
        repository_id=repository.pk, pr_number=pr_number, head_sha=head_sha, trigger_key=trigger_key
    )
    existing = ReviewRun.objects.filter(idempotency_key=key).first()
    if existing is not None:
        log.info("review_run.duplicate_request", run_id=existing.pk, trigger=trigger)
        return existing

    from billing.selectors import review_queue_for

    queue: Queue = review_queue_for(repository.workspace_id)
    correlation_id = get_correlation_id() or new_correlation_id()
    try:
        with transaction.atomic():
            run = ReviewRun.objects.create(
                workspace_id=repository.workspace_id,
                repository=repository,
                pr_number=pr_number,
                base_sha=base_sha,
                head_sha=head_sha,
                trigger=trigger,
                trigger_key=trigger_key,
                status=RunStatus.QUEUED,
                queue=queue.queue_name,
                pull_request=pull_request_snapshot(pull_request),
                correlation_id=correlation_id,
                idempotency_key=key,
                requested_by=requested_by if getattr(requested_by, "pk", None) else None,
                requested_by_actor=actor[:200],
                force_full=force_full,
                rerun_of=rerun_of,
                queued_at=timezone.now(),
            )
            if supersede:
                _supersede_older(run)
            state.send_after_commit(signals.run_created, run=run)
            _dispatch_new_run(run, queue)
    except IntegrityError:
        # A concurrent request created the same run first: theirs is the run.
        existing = ReviewRun.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        log.info("review_run.duplicate_request", run_id=existing.pk, trigger=trigger, raced=True)
        return existing
    log.info(
        "review_run.requested",
        run_id=run.pk,
        repository_id=repository.pk,
        pr_number=pr_number,
        head_sha=head_sha,
        trigger=trigger,
        queue=queue.queue_name,
    )
    return run


def _supersede_older(run: ReviewRun) -> None:
    """Skip the PR's other active runs of other head SHAs; cancel their jobs after commit."""
    older = list(
        ReviewRun.objects.select_for_update()
        .filter(repository_id=run.repository_id, pr_number=run.pr_number, status__in=ACTIVE_STATUSES)
        .exclude(head_sha=run.head_sha)
        .exclude(pk=run.pk)
        .values_list("pk", flat=True)
    )
    for old_id in older:
        superseded = state.transition(
            old_id,
            to=RunStatus.SKIPPED,
            skip_reason=SkipReason.SUPERSEDED,
            skip_message=f"Superseded by a newer push ({run.head_sha[:7]}, run {run.pk}).",
            superseded_by_id=run.pk,
        )
        if superseded is not None:
            log.info("review_run.superseded", run_id=old_id, by_run_id=run.pk)
            transaction.on_commit(lambda old=superseded: _cancel_jobs(old))


def _debounce_for(run: ReviewRun) -> float:
    if run.trigger != Trigger.WEBHOOK:
        return 0.0
    return float(getattr(settings, "SENTINEL_REVIEW_DEBOUNCE_SECONDS", 0) or 0)


def _dispatch_new_run(run: ReviewRun, queue: Queue) -> None:
    from queues.dispatch import dispatch
    from reviews import jobs

    debounce = _debounce_for(run)
    if debounce > 0:
        dispatch(
            jobs.release_review_run,
            workspace_id=run.workspace_id,
            entity_ids={"review_run_id": run.pk},
            queue=queue,
            delay=timedelta(seconds=debounce),
            correlation_id=run.correlation_id,
        )
    else:
        dispatch_execution(run)


def dispatch_execution(run: ReviewRun) -> str:
    """Queue ExecuteReviewRun on the run's tier queue, within the workspace's concurrency limit."""
    from queues.dispatch import dispatch
    from reviews import jobs

    return dispatch(
        jobs.execute_review_run,
        workspace_id=run.workspace_id,
        entity_ids={"review_run_id": run.pk},
        queue=Queue.from_name(run.queue) if run.queue else None,
        correlation_id=run.correlation_id or None,
    )


def dispatch_annotations(run: ReviewRun) -> str:
    from queues.dispatch import dispatch
    from reviews import jobs

    return dispatch(
        jobs.post_annotations,
        workspace_id=run.workspace_id,
        entity_ids={"review_run_id": run.pk},
        correlation_id=run.correlation_id or None,
    )


def _cancel_jobs(run: ReviewRun) -> None:
    from queues.control import cancel

    for job_id in (run.job_id, run.release_job_id):
        try:
            outcome = cancel(job_id)
        except Exception:  # noqa: BLE001 - the run is already terminal in the database; the job will find out
            log.warning("review_run.job_cancel_failed", run_id=run.pk, job_id=job_id, exc_info=True)
            continue
        if outcome != "missing":
            log.info("review_run.job_cancelled", run_id=run.pk, job_id=job_id, outcome=outcome)


def cancel_run(*, run: ReviewRun, actor: str) -> ReviewRun:
    """Cancel a queued or running run: the run ends `cancelled`, its job is cancelled or stopped.

    Cancelling a cancelled run is a no-op; cancelling any other finished run is a Conflict.
    """
    if run.status == RunStatus.CANCELLED:
        return run
    if run.is_terminal:
        raise Conflict(f"Run {run.pk} already ended ({run.status}); it cannot be cancelled.", code="run_finished")
    with transaction.atomic():
        cancelled = state.transition(
            run.pk,
            to=RunStatus.CANCELLED,
            from_=ACTIVE_STATUSES,
            cancelled_by=actor[:200],
            error_message="",
        )
        if cancelled is None:
            current = ReviewRun.objects.get(pk=run.pk)
            if current.status == RunStatus.CANCELLED:
                return current
            raise Conflict(
                f"Run {run.pk} already ended ({current.status}); it cannot be cancelled.", code="run_finished"
            )
        transaction.on_commit(lambda: _cancel_jobs(cancelled))
    log.info("review_run.cancelled", run_id=run.pk, actor=actor)
    return cancelled


def rerun(*, run: ReviewRun, actor: str) -> ReviewRun:
    """Review the run's head SHA again, in full, as a new run (`rerun_of` points back).

    Idempotent per run: asking twice returns the same new run. The run must have ended.
    """
    if not run.is_terminal:
        raise Conflict(f"Run {run.pk} is still {run.status}; cancel it or wait for it to end.", code="run_active")
    return create_run(
        repository=run.repository,
        pr_number=run.pr_number,
        base_sha=run.base_sha,
        head_sha=run.head_sha,
        trigger=Trigger.MANUAL,
        trigger_key=f"rerun:{run.pk}",
        pull_request=pull_request_from_snapshot(run.pull_request),
        actor=actor,
        force_full=True,
        rerun_of=run,
        # A re-run is not a push: it must not cancel a newer head's run.
        supersede=False,
    )


def release_run(*, run_id: int, workspace_id: int) -> str:
    """After the debounce wait: queue the run's execution if it is still queued."""
    from workspaces.tenancy import get_for_workspace

    run = get_for_workspace(ReviewRun, pk=run_id, workspace_id=workspace_id)
    if run.status != RunStatus.QUEUED:
        return f"not released: {run.status}"
    dispatch_execution(run)
    return "released"


def record_progress(*, run_id: int, percent: int, step: str) -> None:
    """Mirror a job's progress on the run (only while it runs)."""
    ReviewRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        progress=max(0, min(100, percent)), progress_step=step[:64], updated_at=timezone.now()
    )
