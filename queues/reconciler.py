"""The reconciler: PostgreSQL is the record, Redis a cache of work.

rq can lose a job: a worker listening to several queues does not use rq's reliable intermediate
queue, so a kill at the wrong moment drops the job it was taking; a Redis that restarts empty
loses everything. Domain apps therefore register, once, where "entities that should have a live
job" are found, and a cron job on `system` (queues.jobs.reconcile, schedule `queues.reconciler`,
every minute) re-dispatches every such entity whose job Redis no longer knows:

    # reviews/apps.py, in ready()
    from queues import reconciler
    reconciler.register(
        "reviews.queued_runs",
        source=lambda: ReviewRun.objects.filter(status="queued", queued_at__lt=now() - timedelta(seconds=60)),
        job_id=lambda run: f"review-run-{run.pk}",
        redispatch=lambda run: services.redispatch(run),   # calls queues.dispatch.dispatch(...)
    )

- `source()` returns the entities (any iterable; a queryset is iterated in chunks). Give it a
  small age threshold so freshly created entities whose dispatch is still committing are left
  alone (harmless anyway: see the next point).
- `job_id(entity)` is the deterministic job id the entity's dispatch uses, and `redispatch(entity)`
  dispatches with that same id: a job that does exist after all is a duplicate, which rq refuses,
  so re-dispatching is always safe.
- Only a *missing* job is re-dispatched. A job that is queued, scheduled, running, waiting for a
  concurrency slot, finished or failed is the domain's business (dead letters, status receivers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

import structlog
from django.utils import timezone
from redis import Redis

from queues import keys

log = structlog.get_logger("queues.reconciler")

BATCH = 500


@dataclass(frozen=True)
class Source:
    name: str
    source: Callable[[], Iterable[Any]]
    job_id: Callable[[Any], str]
    redispatch: Callable[[Any], Any]


_sources: dict[str, Source] = {}


def register(
    name: str,
    *,
    source: Callable[[], Iterable[Any]],
    job_id: Callable[[Any], str],
    redispatch: Callable[[Any], Any],
) -> None:
    """Register (or replace) a source of entities that should have a live job. See the module docstring."""
    _sources[name] = Source(name=name, source=source, job_id=job_id, redispatch=redispatch)


def unregister(name: str) -> None:
    _sources.pop(name, None)


def registered() -> dict[str, Source]:
    return dict(_sources)


def _batches(items: Iterable[Any]) -> Iterable[list[Any]]:
    if hasattr(items, "iterator"):  # a queryset: stream it
        items = items.iterator(chunk_size=BATCH)
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def reconcile_source(source: Source, connection: Redis) -> dict[str, int]:
    counts = {"checked": 0, "redispatched": 0, "errors": 0}
    for batch in _batches(source.source()):
        ids = [source.job_id(entity) for entity in batch]
        pipe = connection.pipeline(transaction=False)
        for job_id in ids:
            pipe.exists(f"rq:job:{job_id}")
        exists = pipe.execute()
        counts["checked"] += len(batch)
        for entity, job_id, present in zip(batch, ids, exists, strict=True):
            if present:
                continue
            try:
                source.redispatch(entity)
            except Exception:  # noqa: BLE001 - one bad entity must not stop the rest
                counts["errors"] += 1
                log.exception("reconciler.redispatch_failed", source=source.name, job_id=job_id)
                continue
            counts["redispatched"] += 1
            log.warning("reconciler.redispatched", source=source.name, job_id=job_id)
    return counts


def run(connection: Redis | None = None) -> dict[str, Any]:
    """Check every registered source once; record the run for queue_health. Returns the counts."""
    from queues.connection import get_redis

    connection = connection or get_redis()
    totals = {"checked": 0, "redispatched": 0, "errors": 0}
    by_source = {}
    for source in list(_sources.values()):
        try:
            counts = reconcile_source(source, connection)
        except Exception:  # noqa: BLE001 - a broken source is logged; the others still run
            log.exception("reconciler.source_failed", source=source.name)
            counts = {"checked": 0, "redispatched": 0, "errors": 1}
        by_source[source.name] = counts
        for key, value in counts.items():
            totals[key] += value
    record = {"at": timezone.now().isoformat(), **totals}
    connection.set(keys.RECONCILER_LAST_RUN, json.dumps(record))
    log.info("reconciler.run", sources=len(by_source), **totals)
    return {**record, "sources": by_source}
