"""Analytics jobs: ingestion on `default`, backfills, rollups and retention on `bulk`.

Each job takes ids and immutable data from its envelope and calls one service (analytics/services.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from django.utils.dateparse import parse_date

from analytics import services
from analytics.rollups import RollupsUnsupported
from queues.declaration import job
from queues.envelope import Envelope
from queues.exceptions import PermanentFailure
from queues.retry import RetryPolicy
from queues.topology import Queue

log = structlog.get_logger("analytics.jobs")


def _events(envelope: Envelope) -> list[services.EventInput]:
    try:
        return [services.EventInput.from_payload(raw) for raw in envelope.data.get("events", [])]
    except (services.InvalidEvent, TypeError, ValueError) as exc:
        raise PermanentFailure(f"invalid analytics event payload: {exc}") from exc


def _record(envelope: Envelope) -> dict[str, Any]:
    if envelope.workspace_id is None:
        raise PermanentFailure("analytics ingestion needs the envelope's workspace_id")
    events = _events(envelope)
    try:
        created = services.record_events(
            workspace_id=int(envelope.workspace_id), events=events, correlation_id=envelope.correlation_id
        )
    except services.InvalidEvent as exc:
        raise PermanentFailure(str(exc)) from exc
    return {"received": len(events), "created": created}


# Live ingestion: one job per domain event (its key is the job id), database-only retry policy.
# Not throttled or concurrency-limited: recording history must never wait behind review limits.
@job(
    queue=Queue.DEFAULT,
    retry=RetryPolicy.DATABASE,
    job_id="analytics-ingest-{key}",
    limit_concurrency=False,
    throttle=False,
)
def ingest_events(envelope: Envelope) -> dict[str, Any]:
    return _record(envelope)


# Backfills (history recorded after the fact, `manage.py backfill_events`): same service, on `bulk`.
@job(
    queue=Queue.BULK,
    retry=RetryPolicy.DATABASE,
    job_id="analytics-backfill-{key}",
    limit_concurrency=False,
    throttle=False,
)
def backfill_events(envelope: Envelope) -> dict[str, Any]:
    return _record(envelope)


# The incremental rollup step (cron). Ticks are unique by id; overlapping ticks serialise on the
# rollup advisory lock.
@job(queue=Queue.BULK, retry=RetryPolicy.DATABASE, limit_concurrency=False, throttle=False)
def update_rollups(envelope: Envelope) -> dict[str, Any]:
    try:
        return services.update_rollups()
    except RollupsUnsupported as exc:
        # The embedded SQLite of `make run`: say so on every tick rather than dead-letter it.
        log.warning("analytics.rollups_unsupported", error=str(exc))
        return {"skipped": str(exc)}


@job(queue=Queue.BULK, retry=RetryPolicy.DATABASE, limit_concurrency=False, throttle=False)
def rebuild_rollups(envelope: Envelope) -> dict[str, int]:
    since = envelope.data.get("since")
    workspace_ids = envelope.data.get("workspace_ids")
    try:
        return services.rebuild_rollups(
            workspace_ids=workspace_ids, since=parse_date(since) if since else None
        )
    except RollupsUnsupported as exc:
        raise PermanentFailure(str(exc)) from exc


@job(queue=Queue.BULK, retry=RetryPolicy.DATABASE, limit_concurrency=False, throttle=False)
def purge_expired_events(envelope: Envelope) -> dict[str, int]:
    return {"deleted": services.purge_expired_events()}
