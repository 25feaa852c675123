"""Backfill: history that happened before analytics listened (or while ingestion was down).

Reads the review runs, findings and annotations through the fields the reviews contract names,
turns them into the very events the receivers would have produced (same keys, so anything already
recorded is skipped) and queues them on `bulk` in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from analytics.models import EventKind
from analytics.receivers import finding_events, run_event
from analytics.services import EventInput

# Transitions a run in a given status has been through (its terminal event last).
_TRANSITIONS = {
    "queued": [EventKind.RUN_CREATED],
    "running": [EventKind.RUN_CREATED, EventKind.RUN_STARTED],
    "completed": [EventKind.RUN_CREATED, EventKind.RUN_STARTED, EventKind.RUN_COMPLETED],
    "failed": [EventKind.RUN_CREATED, EventKind.RUN_STARTED, EventKind.RUN_FAILED],
    "cancelled": [EventKind.RUN_CREATED, EventKind.RUN_CANCELLED],
    "skipped": [EventKind.RUN_CREATED, EventKind.RUN_SKIPPED],
}


def run_history(run: Any) -> list[EventInput]:
    """The events one review run has produced so far, as its receivers would have recorded them."""
    from reviews.models import Annotation, Finding

    events = []
    for kind in _TRANSITIONS.get(run.status, [EventKind.RUN_CREATED]):
        if kind == EventKind.RUN_STARTED and run.started_at is None:
            continue
        events.append(run_event(str(kind), run))
    if run.status == "completed":
        events += finding_events(run, list(Finding.objects.filter(run_id=run.pk, workspace_id=run.workspace_id)))
    for annotation in Annotation.objects.filter(run_id=run.pk, workspace_id=run.workspace_id, posted_at__isnull=False):
        events.append(
            EventInput(
                key=f"{EventKind.ANNOTATION_POSTED}:{annotation.pk}",
                kind=str(EventKind.ANNOTATION_POSTED),
                occurred_at=annotation.posted_at,
                repository_id=run.repository_id,
                data={"run_id": run.pk, "annotation_id": annotation.pk, "kind": annotation.kind,
                      **({"finding_id": annotation.finding_id} if annotation.finding_id else {})},
            )
        )
    return events


def review_history(
    *, workspace_id: int, since: datetime | None = None, batch_size: int = 200
) -> Iterator[tuple[str, list[EventInput]]]:
    """(batch key, events) for the workspace's review runs created since `since`, oldest first."""
    from reviews.models import ReviewRun

    runs = ReviewRun.objects.filter(workspace_id=workspace_id).order_by("pk")
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    batch: list[EventInput] = []
    first_id = None
    for run in runs.iterator(chunk_size=batch_size):
        first_id = first_id or run.pk
        batch += run_history(run)
        if len(batch) >= batch_size:
            yield f"runs-{workspace_id}-{first_id}-{run.pk}", batch
            batch, first_id = [], None
    if batch:
        yield f"runs-{workspace_id}-{first_id}-end", batch


def queue_backfill(*, workspace_id: int, since: datetime | None = None) -> list[str]:
    """Dispatch `analytics.jobs.backfill_events` on `bulk` for each batch; return the job ids."""
    from analytics.jobs import backfill_events
    from queues.dispatch import dispatch

    job_ids = []
    for key, events in review_history(workspace_id=workspace_id, since=since):
        job_ids.append(
            dispatch(
                backfill_events,
                workspace_id=workspace_id,
                entity_ids={"key": key},
                data={"events": [e.to_payload() for e in events]},
            )
        )
    return job_ids
