"""Review runs whose events never reached analytics, for the queues reconciler.

A receiver queues ingestion after the sender's commit; when Redis refuses that job (down at that
moment) or loses it, the events of the run are gone from the dashboard. Every finished run of the
last day, a couple of minutes old, whose terminal event (`run_<status>:<id>`) is not recorded is
re-ingested from the rows (`backfill.run_history`, the very events the receivers produce, same
keys: whatever was recorded is skipped) by `analytics.jobs.backfill_events` on `bulk`.

Only review runs can be rebuilt this way; the other domain signals (commands, usage, billing)
carry facts analytics cannot read back from rows (docs/analytics.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from analytics.models import Event

# Older than the ingestion of a healthy system takes; younger than a day (the rest is the
# `backfill_events` command's business, for operators).
GRACE = timedelta(minutes=2)
WINDOW = timedelta(days=1)


def runs_missing_their_events() -> Iterable:
    from reviews.models import TERMINAL_STATUSES, ReviewRun

    now = timezone.now()
    recorded = Event.objects.filter(idempotency_key=OuterRef("terminal_event_key"))
    return (
        ReviewRun.objects.filter(status__in=TERMINAL_STATUSES, finished_at__lt=now - GRACE,
                                 finished_at__gt=now - WINDOW)
        .annotate(terminal_event_key=Concat(Value("run_"), F("status"), Value(":"), Cast("pk", CharField())))
        .exclude(Exists(recorded))
        .order_by("pk")
    )


def job_key(run: Any) -> str:
    return f"run-{run.pk}"


def reingest(run: Any) -> str:
    from analytics.backfill import run_history
    from analytics.jobs import backfill_events
    from queues.dispatch import dispatch

    return dispatch(
        backfill_events,
        workspace_id=run.workspace_id,
        entity_ids={"key": job_key(run)},
        data={"events": [e.to_payload() for e in run_history(run)]},
    )


def register() -> None:
    from queues import reconciler

    reconciler.register(
        "analytics.runs_missing_events",
        source=runs_missing_their_events,
        job_id=lambda run: f"analytics-backfill-{job_key(run)}",
        redispatch=reingest,
    )
