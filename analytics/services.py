"""Writes of the analytics app: recording events, maintaining rollups, retention.

`record_events` is the only way an `Event` row is created. Ingestion jobs (analytics/jobs.py) call
it with the facts the receivers extracted from the domain signals; it is idempotent per event key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics import rollups
from analytics.models import Event, EventKind, RollupDirty

log = structlog.get_logger("analytics.services")

_KINDS = frozenset(EventKind.values)


class InvalidEvent(ValueError):
    """An event payload the ingestion cannot record (deterministic: never retried)."""


@dataclass(frozen=True)
class EventInput:
    """One event to record. `key` is globally unique for the domain fact it describes."""

    key: str
    kind: str
    occurred_at: datetime
    repository_id: int | None = None
    actor: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """JSON-safe form for a job envelope."""
        return {
            "key": self.key,
            "kind": self.kind,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "repository_id": self.repository_id,
            "actor": self.actor,
            "data": self.data,
        }

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> EventInput:
        occurred = raw.get("occurred_at")
        moment = occurred if isinstance(occurred, datetime) else parse_datetime(str(occurred or ""))
        if moment is None or timezone.is_naive(moment):
            raise InvalidEvent(f"event {raw.get('key')!r}: occurred_at must be an aware ISO datetime")
        repository_id = raw.get("repository_id")
        return cls(
            key=str(raw.get("key") or ""),
            kind=str(raw.get("kind") or ""),
            occurred_at=moment,
            repository_id=int(repository_id) if repository_id not in (None, "") else None,
            actor=str(raw.get("actor") or "")[:200],
            data=dict(raw.get("data") or {}),
        )


def _validate(event: EventInput) -> None:
    if not event.key or len(event.key) > 200:
        raise InvalidEvent(f"event key must be 1-200 characters, got {event.key!r}")
    if event.kind not in _KINDS:
        raise InvalidEvent(f"unknown event kind {event.kind!r}")
    if timezone.is_naive(event.occurred_at):
        raise InvalidEvent(f"event {event.key!r}: occurred_at must be timezone-aware")


def record_events(
    *, workspace_id: int, events: Iterable[EventInput], correlation_id: str = ""
) -> int:
    """Record events of one workspace, ignoring keys already recorded; return how many were new.

    Marks each touched (workspace, UTC day) dirty in the same transaction, so the rollup cron
    recomputes exactly the buckets that changed. Events older than the retention horizon are
    dropped (the clean-up would delete them and their buckets are frozen).
    """
    horizon = rollups.retention_horizon()
    batch: list[Event] = []
    seen: set[str] = set()
    for event in events:
        _validate(event)
        if event.key in seen:
            continue
        seen.add(event.key)
        if event.occurred_at < horizon:
            log.info("analytics.event_too_old", key=event.key, occurred_at=event.occurred_at.isoformat())
            continue
        batch.append(
            Event(
                workspace_id=workspace_id,
                repository_id=event.repository_id,
                kind=event.kind,
                actor=event.actor,
                occurred_at=event.occurred_at,
                data=event.data,
                idempotency_key=event.key,
                correlation_id=correlation_id[:64],
            )
        )
    if not batch:
        return 0
    keys = [e.idempotency_key for e in batch]
    with transaction.atomic():
        before = set(Event.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
        # ON CONFLICT DO NOTHING: a concurrent or repeated delivery of the same key is a no-op.
        Event.objects.bulk_create(batch, ignore_conflicts=True)
        days = {(workspace_id, e.occurred_at.astimezone(UTC).date()) for e in batch}
        RollupDirty.objects.bulk_create(
            [RollupDirty(workspace_id=ws, day=d) for ws, d in sorted(days)], ignore_conflicts=True
        )
    created = len([k for k in keys if k not in before])
    log.info("analytics.events_recorded", workspace_id=workspace_id, received=len(keys), created=created)
    return created


def update_rollups(*, now: datetime | None = None) -> dict[str, int]:
    """The incremental cron step: recompute the buckets touched since the last run."""
    return rollups.process_dirty(now=now)


def rebuild_rollups(
    *, workspace_ids: Iterable[int] | None = None, since: date | datetime | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Recompute every rollup bucket of the workspaces from `since` (default: the retention horizon)."""
    if isinstance(since, date) and not isinstance(since, datetime):
        since = rollups.day_start(since)
    return rollups.rebuild(workspace_ids=workspace_ids, since=since, now=now)


def purge_expired_events(*, now: datetime | None = None, batch_size: int = 10_000) -> int:
    """Delete raw events older than ANALYTICS_EVENT_RETENTION_DAYS, in batches; rollups stay.

    This and a workspace's deletion are the only ways events leave the table; the ORM refuses
    deletes (`AppendOnlyError`), so this issues the SQL itself.
    """
    horizon = rollups.retention_horizon(now)
    table = Event._meta.db_table
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE occurred_at < %s LIMIT %s)",  # noqa: S608 - table name from the model
                [horizon, batch_size],
            )
            deleted = cursor.rowcount
        total += deleted
        if deleted < batch_size:
            break
    # Stale dirty markers (for days before the horizon) would never be processed: drop them too.
    RollupDirty.objects.filter(day__lt=horizon.date()).delete()
    log.info("analytics.events_purged", deleted=total, horizon=horizon.isoformat())
    return total


def retention_days() -> int:
    return int(settings.ANALYTICS_EVENT_RETENTION_DAYS)
