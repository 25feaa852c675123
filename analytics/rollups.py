"""Rollups: recomputing buckets of `Rollup` from raw `Event` rows with PostgreSQL aggregation.

Every bucket is UTC (`date_trunc(unit, occurred_at AT TIME ZONE 'UTC')`, whatever the session's
time zone). One SQL statement per granularity aggregates all targeted (workspace, range) pairs:
`GROUPING SETS` produce the workspace row (repository null) and one row per repository in the same
pass, `percentile_cont` the exact p50/p95 of review duration and queue wait.

Recomputing is delete-then-insert of whole buckets inside one transaction holding a
transaction-level advisory lock, so a bucket recomputed twice (by the cron, by `rebuild_rollups`,
by both at once) ends with the same row. Buckets are recomputed only inside the raw-event
retention window: outside it the events are gone and the rollups are kept forever as they are.

Granularities: `day`, `week` (ISO, Monday), `month`, all kept forever, and `hour` for the last
48 hours only (older hourly rows are pruned). Week and month are rolled up from events rather than
merged from days because percentiles do not merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics.models import Granularity

log = structlog.get_logger("analytics.rollups")

HOURLY_WINDOW = timedelta(hours=48)
# Beyond any event: the open upper end of a rebuild (aligned to every granularity).
FAR_FUTURE = datetime(3000, 1, 1, tzinfo=UTC)
# pg_advisory_xact_lock key: serialises every rollup recomputation (cron ticks, rebuilds).
ROLLUP_LOCK_KEY = 0x616E616C79746963  # "analytic"

UNITS = {
    Granularity.HOUR: "hour",
    Granularity.DAY: "day",
    Granularity.WEEK: "week",
    Granularity.MONTH: "month",
}


class RollupsUnsupported(Exception):
    """Rollups need PostgreSQL (ordered-set aggregates, GROUPING SETS, jsonb)."""


@dataclass(frozen=True)
class Target:
    """Recompute every `granularity` bucket of `workspace_id` in [lo, hi) (aligned bounds)."""

    workspace_id: int
    lo: datetime
    hi: datetime


# --- Bucket arithmetic (UTC) ------------------------------------------------------------------


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def bucket_floor(moment: datetime, granularity: str) -> datetime:
    """The start of the bucket containing `moment` (any aware datetime), in UTC."""
    moment = moment.astimezone(UTC)
    if granularity == Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    d = moment.date()
    if granularity == Granularity.DAY:
        return day_start(d)
    if granularity == Granularity.WEEK:
        return day_start(d - timedelta(days=d.weekday()))
    if granularity == Granularity.MONTH:
        return day_start(d.replace(day=1))
    raise ValueError(f"unknown granularity {granularity!r}")


def bucket_next(start: datetime, granularity: str) -> datetime:
    """The start of the bucket after the one starting at `start`."""
    if granularity == Granularity.HOUR:
        return start + timedelta(hours=1)
    if granularity == Granularity.DAY:
        return start + timedelta(days=1)
    if granularity == Granularity.WEEK:
        return start + timedelta(days=7)
    if granularity == Granularity.MONTH:
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return start.replace(year=year, month=month, day=1)
    raise ValueError(f"unknown granularity {granularity!r}")


def bucket_ceil(moment: datetime, granularity: str) -> datetime:
    """The first bucket start at or after `moment`."""
    floor = bucket_floor(moment, granularity)
    return floor if floor == moment.astimezone(UTC) else bucket_next(floor, granularity)


def retention_horizon(now: datetime | None = None) -> datetime:
    """Raw events older than this (a UTC day start) are deleted; rollups before it are frozen."""
    now = now or timezone.now()
    days = int(settings.ANALYTICS_EVENT_RETENTION_DAYS)
    return day_start((now - timedelta(days=days)).astimezone(UTC).date())


def hourly_cutoff(now: datetime | None = None) -> datetime:
    """Hourly rollups exist for buckets starting at or after this."""
    now = now or timezone.now()
    return bucket_floor(now - HOURLY_WINDOW, Granularity.HOUR)


# --- The SQL ------------------------------------------------------------------------------------

_TARGETS = """
targets AS (
    SELECT * FROM unnest(%(ws)s::bigint[], %(lo)s::timestamptz[], %(hi)s::timestamptz[])
        AS t(workspace_id, lo, hi)
)"""

# {unit} is one of UNITS' values (never user input).
_AGGREGATE = (
    "WITH"  # noqa: S608 - constant SQL; values travel as parameters
    + _TARGETS
    + """,
ev AS (
    SELECT e.workspace_id, e.repository_id, e.kind, e.data,
           date_trunc('{unit}', e.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket
    FROM analytics_event e
    JOIN targets t ON e.workspace_id = t.workspace_id AND e.occurred_at >= t.lo AND e.occurred_at < t.hi
),
base AS (
    SELECT workspace_id, repository_id, bucket, GROUPING(repository_id) AS lvl,
        count(*) AS events_total,
        count(*) FILTER (WHERE kind = 'run_created') AS runs_created,
        count(*) FILTER (WHERE kind = 'run_started') AS runs_started,
        count(*) FILTER (WHERE kind = 'run_completed') AS runs_completed,
        count(*) FILTER (WHERE kind = 'run_failed') AS runs_failed,
        count(*) FILTER (WHERE kind = 'run_skipped') AS runs_skipped,
        count(*) FILTER (WHERE kind = 'run_cancelled') AS runs_cancelled,
        count(*) FILTER (WHERE kind = 'finding_reported') AS findings_total,
        count(data->>'duration_ms') FILTER (WHERE kind = 'run_completed') AS duration_count,
        coalesce(sum((data->>'duration_ms')::bigint) FILTER (WHERE kind = 'run_completed'), 0) AS duration_sum_ms,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY (data->>'duration_ms')::float8)
            FILTER (WHERE kind = 'run_completed') AS duration_p50_ms,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY (data->>'duration_ms')::float8)
            FILTER (WHERE kind = 'run_completed') AS duration_p95_ms,
        count(data->>'queue_wait_ms') FILTER (WHERE kind = 'run_started') AS queue_wait_count,
        coalesce(sum((data->>'queue_wait_ms')::bigint) FILTER (WHERE kind = 'run_started'), 0) AS queue_wait_sum_ms,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY (data->>'queue_wait_ms')::float8)
            FILTER (WHERE kind = 'run_started') AS queue_wait_p50_ms,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY (data->>'queue_wait_ms')::float8)
            FILTER (WHERE kind = 'run_started') AS queue_wait_p95_ms,
        coalesce(sum((data->>'input_tokens')::bigint)
            FILTER (WHERE kind IN ('run_completed', 'run_failed')), 0) AS input_tokens,
        coalesce(sum((data->>'output_tokens')::bigint)
            FILTER (WHERE kind IN ('run_completed', 'run_failed')), 0) AS output_tokens,
        coalesce(sum((data->>'cost_microusd')::bigint)
            FILTER (WHERE kind IN ('run_completed', 'run_failed')), 0) AS cost_microusd,
        count(*) FILTER (WHERE kind = 'annotation_posted') AS annotations_posted,
        count(*) FILTER (WHERE kind = 'command_executed') AS commands_executed,
        count(*) FILTER (WHERE kind = 'briefing_posted') AS briefings_posted
    FROM ev
    GROUP BY GROUPING SETS ((workspace_id, bucket), (workspace_id, repository_id, bucket))
    -- the per-repository set would also yield a "no repository" group: the workspace row covers it
    HAVING GROUPING(repository_id) = 1 OR repository_id IS NOT NULL
),
findings AS (
    SELECT workspace_id, repository_id, bucket,
           coalesce(nullif(data->>'severity', ''), 'unknown') AS severity,
           coalesce(nullif(data->>'category', ''), 'unknown') AS category
    FROM ev WHERE kind = 'finding_reported'
),
sev AS (
    SELECT workspace_id, coalesce(repository_id, 0) AS repo_key, bucket, lvl,
           jsonb_object_agg(severity, n) AS by_severity
    FROM (
        SELECT workspace_id, repository_id, bucket, severity, GROUPING(repository_id) AS lvl, count(*) AS n
        FROM findings
        GROUP BY GROUPING SETS ((workspace_id, bucket, severity), (workspace_id, repository_id, bucket, severity))
        HAVING GROUPING(repository_id) = 1 OR repository_id IS NOT NULL
    ) s
    GROUP BY 1, 2, 3, 4
),
cat AS (
    SELECT workspace_id, coalesce(repository_id, 0) AS repo_key, bucket, lvl,
           jsonb_object_agg(category, n) AS by_category
    FROM (
        SELECT workspace_id, repository_id, bucket, category, GROUPING(repository_id) AS lvl, count(*) AS n
        FROM findings
        GROUP BY GROUPING SETS ((workspace_id, bucket, category), (workspace_id, repository_id, bucket, category))
        HAVING GROUPING(repository_id) = 1 OR repository_id IS NOT NULL
    ) c
    GROUP BY 1, 2, 3, 4
)
INSERT INTO analytics_rollup (
    workspace_id, repository_id, granularity, bucket_start,
    events_total, runs_created, runs_started, runs_completed, runs_failed, runs_skipped, runs_cancelled,
    findings_total, findings_by_severity, findings_by_category,
    duration_count, duration_sum_ms, duration_p50_ms, duration_p95_ms,
    queue_wait_count, queue_wait_sum_ms, queue_wait_p50_ms, queue_wait_p95_ms,
    input_tokens, output_tokens, cost_microusd,
    annotations_posted, commands_executed, briefings_posted, computed_at
)
SELECT b.workspace_id, b.repository_id, %(granularity)s, b.bucket,
    b.events_total, b.runs_created, b.runs_started, b.runs_completed, b.runs_failed, b.runs_skipped,
    b.runs_cancelled,
    b.findings_total, coalesce(s.by_severity, '{{}}'::jsonb), coalesce(c.by_category, '{{}}'::jsonb),
    b.duration_count, b.duration_sum_ms, b.duration_p50_ms, b.duration_p95_ms,
    b.queue_wait_count, b.queue_wait_sum_ms, b.queue_wait_p50_ms, b.queue_wait_p95_ms,
    b.input_tokens, b.output_tokens, b.cost_microusd,
    b.annotations_posted, b.commands_executed, b.briefings_posted, %(now)s
FROM base b
-- coalesce(repository_id, 0): a hashable equality instead of IS NOT DISTINCT FROM
LEFT JOIN sev s ON s.workspace_id = b.workspace_id AND s.repo_key = coalesce(b.repository_id, 0)
    AND s.bucket = b.bucket AND s.lvl = b.lvl
LEFT JOIN cat c ON c.workspace_id = b.workspace_id AND c.repo_key = coalesce(b.repository_id, 0)
    AND c.bucket = b.bucket AND c.lvl = b.lvl
"""
)

_DELETE = (
    "WITH"
    + _TARGETS
    + """
DELETE FROM analytics_rollup r USING targets t
WHERE r.workspace_id = t.workspace_id AND r.granularity = %(granularity)s
  AND r.bucket_start >= t.lo AND r.bucket_start < t.hi
"""
)


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise RollupsUnsupported(f"analytics rollups need PostgreSQL, not {connection.vendor}")


def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])


def _merge(targets: Iterable[Target]) -> list[Target]:
    """Sort and merge overlapping/adjacent ranges per workspace (fewer, larger index scans)."""
    merged: list[Target] = []
    for t in sorted(targets, key=lambda t: (t.workspace_id, t.lo)):
        if t.hi <= t.lo:
            continue
        last = merged[-1] if merged else None
        if last and last.workspace_id == t.workspace_id and t.lo <= last.hi:
            merged[-1] = Target(last.workspace_id, last.lo, max(last.hi, t.hi))
        else:
            merged.append(t)
    return merged


def recompute(granularity: str, targets: Iterable[Target], *, now: datetime | None = None) -> int:
    """Replace the `granularity` rollups of `targets` with fresh aggregates; return rows written.

    Must run inside `transaction.atomic()` with the rollup lock held (see `_recompute_all`).
    """
    merged = _merge(targets)
    if not merged:
        return 0
    params = {
        "ws": [t.workspace_id for t in merged],
        "lo": [t.lo for t in merged],
        "hi": [t.hi for t in merged],
        "granularity": str(granularity),
        "now": now or timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_DELETE, params)
        cursor.execute(_AGGREGATE.format(unit=UNITS[Granularity(granularity)]), params)
        return cursor.rowcount


def _clip(lo: datetime, granularity: str, horizon: datetime) -> datetime:
    """The first `granularity` bucket at or after `lo` that starts inside the retention window."""
    return bucket_ceil(max(lo, horizon), granularity) if lo < horizon else lo


def targets_for_days(
    workspace_days: Iterable[tuple[int, date]], *, now: datetime
) -> dict[str, list[Target]]:
    """The buckets of every granularity that contain the given (workspace, UTC day) pairs.

    Buckets that start before the retention horizon are left alone (their events are gone), and
    hourly buckets only inside the 48-hour window.
    """
    horizon = retention_horizon(now)
    cutoff = hourly_cutoff(now)
    result: dict[str, list[Target]] = {g: [] for g in UNITS}
    for workspace_id, d in workspace_days:
        start = day_start(d)
        end = start + timedelta(days=1)
        for granularity in (Granularity.DAY, Granularity.WEEK, Granularity.MONTH):
            lo = bucket_floor(start, granularity)
            if lo < horizon:
                continue
            result[granularity].append(Target(workspace_id, lo, bucket_next(lo, granularity)))
        hour_lo = max(start, cutoff)
        if hour_lo < end:
            result[Granularity.HOUR].append(Target(workspace_id, hour_lo, end))
    return result


def targets_for_rebuild(
    workspace_ids: Iterable[int], *, since: datetime | None, now: datetime
) -> dict[str, list[Target]]:
    """Every bucket from `since` (default and floor: the retention horizon) onwards."""
    horizon = retention_horizon(now)
    lo = max(since, horizon) if since is not None else horizon
    cutoff = hourly_cutoff(now)
    result: dict[str, list[Target]] = {g: [] for g in UNITS}
    for workspace_id in workspace_ids:
        for granularity in (Granularity.DAY, Granularity.WEEK, Granularity.MONTH):
            start = bucket_floor(lo, granularity)
            if start < horizon:  # a partial bucket at the horizon would lose its older events
                start = bucket_next(start, granularity)
            result[granularity].append(Target(workspace_id, start, FAR_FUTURE))
        result[Granularity.HOUR].append(Target(workspace_id, max(bucket_floor(lo, Granularity.HOUR), cutoff), FAR_FUTURE))
    return result


def _recompute_all(targets: dict[str, list[Target]], *, now: datetime) -> dict[str, int]:
    written = {}
    for granularity in (Granularity.HOUR, Granularity.DAY, Granularity.WEEK, Granularity.MONTH):
        written[str(granularity)] = recompute(granularity, targets.get(granularity, []), now=now)
    return written


def prune_hourly(*, now: datetime | None = None) -> int:
    """Drop hourly rollups older than the 48-hour window."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM analytics_rollup WHERE granularity = %s AND bucket_start < %s",
            [str(Granularity.HOUR), hourly_cutoff(now)],
        )
        return cursor.rowcount


def rebuild(
    *, workspace_ids: Iterable[int] | None = None, since: datetime | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Recompute every bucket from `since` (clamped to the retention window) for the workspaces.

    `workspace_ids=None` means every workspace. Returns rows written per granularity.
    """
    _require_postgresql()
    now = now or timezone.now()
    with transaction.atomic():
        _lock()
        if workspace_ids is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM workspaces_workspace ORDER BY id")
                workspace_ids = [row[0] for row in cursor.fetchall()]
        ids = sorted(set(workspace_ids))
        written = _recompute_all(targets_for_rebuild(ids, since=since, now=now), now=now)
        written["hour_pruned"] = prune_hourly(now=now)
    log.info("analytics.rollups_rebuilt", workspaces=len(ids), since=since.isoformat() if since else None, **written)
    return written


def process_dirty(*, batch_size: int = 5000, max_batches: int = 100, now: datetime | None = None) -> dict[str, int]:
    """Absorb the (workspace, day) pairs marked by ingestion: the incremental cron step.

    Each batch takes its markers with `DELETE ... RETURNING` (SKIP LOCKED) in the same transaction
    as the recomputation: a failure restores the markers; an event committed after the markers
    were taken marks its day again, so the next run picks it up.
    """
    _require_postgresql()
    now = now or timezone.now()
    totals = {"days": 0, "hour": 0, "day": 0, "week": 0, "month": 0}
    for _ in range(max_batches):
        with transaction.atomic():
            _lock()
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    DELETE FROM analytics_rollupdirty WHERE id IN (
                        SELECT id FROM analytics_rollupdirty ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
                    ) RETURNING workspace_id, day
                    """,
                    [batch_size],
                )
                pairs = [(row[0], row[1]) for row in cursor.fetchall()]
            if not pairs:
                break
            written = _recompute_all(targets_for_days(pairs, now=now), now=now)
        totals["days"] += len(pairs)
        for key, value in written.items():
            totals[key] += value
        if len(pairs) < batch_size:
            break
    with transaction.atomic():
        totals["hour_pruned"] = prune_hourly(now=now)
    if totals["days"]:
        log.info("analytics.rollups_updated", **totals)
    return totals
