"""What the queues reconciler re-dispatches for the reviews app (Redis lost a job; PostgreSQL did not).

Three sources, each "rows that should have a live job" plus that job's deterministic id:
- queued runs older than the debounce window + a minute -> ExecuteReviewRun (`review-run-<id>`);
- running runs whose job is gone (Redis restarted mid-run) -> ExecuteReviewRun, which resumes;
- finished runs of the last day whose status never reached the PR -> PostAnnotations.
Re-dispatching an id Redis still knows is a no-op, so a false positive costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from reviews.models import (
    TERMINAL_STATUSES,
    Annotation,
    AnnotationKind,
    AnnotationState,
    ReviewRun,
    RunStatus,
)

GRACE = timedelta(seconds=60)


def queued_runs() -> Iterable[ReviewRun]:
    debounce = timedelta(seconds=float(getattr(settings, "SENTINEL_REVIEW_DEBOUNCE_SECONDS", 0) or 0))
    return ReviewRun.objects.filter(status=RunStatus.QUEUED, queued_at__lt=timezone.now() - debounce - GRACE)


def running_runs() -> Iterable[ReviewRun]:
    return ReviewRun.objects.filter(status=RunStatus.RUNNING, updated_at__lt=timezone.now() - GRACE)


def unreported_runs() -> Iterable[ReviewRun]:
    now = timezone.now()
    status_posted = Annotation.objects.filter(
        run_id=OuterRef("pk"), kind=AnnotationKind.STATUS, state=AnnotationState.POSTED
    )
    return ReviewRun.objects.filter(
        status__in=TERMINAL_STATUSES, finished_at__lt=now - GRACE, finished_at__gt=now - timedelta(days=1)
    ).exclude(Exists(status_posted))


def register() -> None:
    from queues import reconciler
    from reviews import services

    reconciler.register(
        "reviews.queued_runs", source=queued_runs, job_id=lambda run: run.job_id, redispatch=services.dispatch_execution
    )
    reconciler.register(
        "reviews.running_runs", source=running_runs, job_id=lambda run: run.job_id, redispatch=services.dispatch_execution
    )
    reconciler.register(
        "reviews.unreported_runs",
        source=unreported_runs,
        job_id=lambda run: run.annotations_job_id,
        redispatch=services.dispatch_annotations,
    )
