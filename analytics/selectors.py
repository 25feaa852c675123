"""Dashboard reads. They read rollups only (never raw events), always scoped to one workspace.

Ranges are whole UTC days `[start, end]` (end inclusive). Sums over a range add the day rows; a
time series of interval `week`/`month`/`hour` reads the rollups of that granularity (the buckets
that overlap the range) so its percentiles are exact for each bucket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from analytics import rollups
from analytics.models import Granularity, Rollup
from integrations.models import Repository

SUM_FIELDS = (
    "events_total",
    "runs_created",
    "runs_started",
    "runs_completed",
    "runs_failed",
    "runs_skipped",
    "runs_cancelled",
    "findings_total",
    "duration_count",
    "duration_sum_ms",
    "queue_wait_count",
    "queue_wait_sum_ms",
    "input_tokens",
    "output_tokens",
    "cost_microusd",
    "annotations_posted",
    "commands_executed",
    "briefings_posted",
)
PERCENTILE_METRICS = ("duration_p50_ms", "duration_p95_ms", "queue_wait_p50_ms", "queue_wait_p95_ms")
DERIVED_METRICS = ("duration_avg_ms", "queue_wait_avg_ms", "success_rate")
# What a time series can show: summable counters, per-bucket percentiles and ratios of sums.
SERIES_METRICS = tuple(f for f in SUM_FIELDS if f not in ("duration_count", "duration_sum_ms", "queue_wait_count", "queue_wait_sum_ms")) + PERCENTILE_METRICS + DERIVED_METRICS
OVERVIEW_METRICS = (
    "runs_created",
    "runs_completed",
    "runs_failed",
    "runs_skipped",
    "runs_cancelled",
    "success_rate",
    "findings_total",
    "duration_avg_ms",
    "queue_wait_avg_ms",
    "input_tokens",
    "output_tokens",
    "cost_microusd",
    "annotations_posted",
    "commands_executed",
    "briefings_posted",
)
TOP_REPOSITORY_ORDERS = (
    "runs_created",
    "runs_completed",
    "runs_failed",
    "findings_total",
    "cost_microusd",
    "input_tokens",
    "output_tokens",
    "annotations_posted",
)
INTERVALS = (Granularity.HOUR, Granularity.DAY, Granularity.WEEK, Granularity.MONTH)


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days, `end` inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def lo(self) -> datetime:
        return rollups.day_start(self.start)

    @property
    def hi(self) -> datetime:
        return rollups.day_start(self.end + timedelta(days=1))

    def previous(self) -> DateRange:
        """The range of the same length just before this one."""
        return DateRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @classmethod
    def last_days(cls, days: int, *, today: date | None = None) -> DateRange:
        today = today or timezone.now().astimezone(UTC).date()
        return cls(today - timedelta(days=days - 1), today)


def _scope(workspace_id: int, repository_id: int | None) -> Q:
    return Q(workspace_id=workspace_id) & (
        Q(repository_id=repository_id) if repository_id is not None else Q(repository__isnull=True)
    )


def repository_exists(*, workspace_id: int, repository_id: int) -> bool:
    """A repository of this workspace, current or one that only lives on in the rollups."""
    return (
        Repository.objects.filter(workspace_id=workspace_id, pk=repository_id).exists()
        or Rollup.objects.for_workspace(workspace_id).filter(repository_id=repository_id).exists()
    )


def derive(values: dict[str, Any]) -> dict[str, Any]:
    """Add the ratio metrics computed from sums (exact over any range)."""
    out = dict(values)
    d_count, w_count = values.get("duration_count") or 0, values.get("queue_wait_count") or 0
    out["duration_avg_ms"] = (values["duration_sum_ms"] / d_count) if d_count else None
    out["queue_wait_avg_ms"] = (values["queue_wait_sum_ms"] / w_count) if w_count else None
    finished = (values.get("runs_completed") or 0) + (values.get("runs_failed") or 0)
    out["success_rate"] = (values["runs_completed"] / finished) if finished else None
    return out


def totals(*, workspace_id: int, date_range: DateRange, repository_id: int | None = None) -> dict[str, Any]:
    """Every summable field over the day rollups of the range, plus the derived ratios."""
    sums = (
        Rollup.objects.filter(
            _scope(workspace_id, repository_id),
            granularity=Granularity.DAY,
            bucket_start__gte=date_range.lo,
            bucket_start__lt=date_range.hi,
        ).aggregate(**{f: Sum(f) for f in SUM_FIELDS})
    )
    return derive({f: int(sums[f] or 0) for f in SUM_FIELDS})


def _change(current: Any, previous: Any) -> dict[str, Any]:
    change = None if current is None or previous is None else current - previous
    pct = None if change is None or not previous else round(change / previous * 100, 2)
    return {"value": current, "previous": previous, "change": change, "change_pct": pct}


def overview(*, workspace_id: int, date_range: DateRange, repository_id: int | None = None) -> dict[str, Any]:
    previous_range = date_range.previous()
    current = totals(workspace_id=workspace_id, date_range=date_range, repository_id=repository_id)
    previous = totals(workspace_id=workspace_id, date_range=previous_range, repository_id=repository_id)
    return {
        "start": date_range.start,
        "end": date_range.end,
        "previous_start": previous_range.start,
        "previous_end": previous_range.end,
        "repository_id": repository_id,
        "metrics": {m: _change(current[m], previous[m]) for m in OVERVIEW_METRICS},
    }


def _buckets(lo: datetime, hi: datetime, granularity: str) -> list[datetime]:
    result = []
    bucket = rollups.bucket_floor(lo, granularity)
    while bucket < hi:
        result.append(bucket)
        bucket = rollups.bucket_next(bucket, granularity)
    return result


_DERIVED_FROM = {
    "duration_avg_ms": ("duration_sum_ms", "duration_count"),
    "queue_wait_avg_ms": ("queue_wait_sum_ms", "queue_wait_count"),
    "success_rate": ("runs_completed", "runs_failed"),
}


def _fields_for(metric: str) -> tuple[str, ...]:
    """The rollup columns one metric needs (a time series reads only those)."""
    return _DERIVED_FROM.get(metric, (metric,))


def _point_value(metric: str, row: dict[str, Any] | None) -> Any:
    if row is None:
        return None if metric in PERCENTILE_METRICS or metric in DERIVED_METRICS else 0
    if metric in DERIVED_METRICS:
        numerator, other = (row[f] or 0 for f in _DERIVED_FROM[metric])
        if metric == "success_rate":
            return numerator / (numerator + other) if numerator + other else None
        return numerator / other if other else None
    return row[metric]


def time_series(
    *,
    workspace_id: int,
    metric: str,
    interval: str,
    date_range: DateRange,
    repository_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One point per `interval` bucket overlapping the range (empty buckets: 0, or null for ratios)."""
    lo, hi = date_range.lo, date_range.hi
    if interval == Granularity.HOUR:  # hourly rollups exist for the last 48 hours only, up to now
        lo = max(lo, rollups.hourly_cutoff(now))
        hi = min(hi, rollups.bucket_next(rollups.bucket_floor(now or timezone.now(), interval), interval))
    fields = ["bucket_start", *_fields_for(metric)]
    rows = {
        row["bucket_start"]: row
        for row in Rollup.objects.filter(
            _scope(workspace_id, repository_id),
            granularity=interval,
            bucket_start__gte=rollups.bucket_floor(lo, interval),
            bucket_start__lt=hi,
        ).values(*fields)
    }
    points = [
        {"bucket": bucket, "value": _point_value(metric, rows.get(bucket))} for bucket in _buckets(lo, hi, interval)
    ]
    return {
        "metric": metric,
        "interval": interval,
        "start": date_range.start,
        "end": date_range.end,
        "repository_id": repository_id,
        "points": points,
    }


def top_repositories(
    *, workspace_id: int, date_range: DateRange, order_by: str = "runs_completed", limit: int = 10
) -> list[dict[str, Any]]:
    """Repositories of the workspace ranked by `order_by` summed over the range (ties: by id)."""
    if order_by not in TOP_REPOSITORY_ORDERS:
        raise ValueError(f"cannot order by {order_by!r}")
    rows = list(
        Rollup.objects.for_workspace(workspace_id)
        .filter(
            repository__isnull=False,
            granularity=Granularity.DAY,
            bucket_start__gte=date_range.lo,
            bucket_start__lt=date_range.hi,
        )
        .values("repository_id")
        .annotate(**{f: Sum(f) for f in SUM_FIELDS})
        .order_by(f"-{order_by}", "repository_id")[:limit]
    )
    names = dict(
        Repository.objects.filter(workspace_id=workspace_id, pk__in=[r["repository_id"] for r in rows]).values_list(
            "pk", "full_name"
        )
    )
    result = []
    for row in rows:
        values = derive({f: int(row[f] or 0) for f in SUM_FIELDS})
        result.append(
            {
                "repository_id": row["repository_id"],
                "full_name": names.get(row["repository_id"]),  # None: the repository was deleted
                **{f: values[f] for f in TOP_REPOSITORY_ORDERS},
                "duration_avg_ms": values["duration_avg_ms"],
                "success_rate": values["success_rate"],
            }
        )
    return result


def _merge_counts(maps: Iterable[dict[str, Any]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for counts in maps:
        for key, value in (counts or {}).items():
            merged[key] = merged.get(key, 0) + int(value)
    return dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))


def findings_breakdown(
    *, workspace_id: int, date_range: DateRange, repository_id: int | None = None
) -> dict[str, Any]:
    """Findings of the range by severity and by category (sums of the day rollups' count maps)."""
    rows = list(
        Rollup.objects.filter(
            _scope(workspace_id, repository_id),
            granularity=Granularity.DAY,
            bucket_start__gte=date_range.lo,
            bucket_start__lt=date_range.hi,
        ).values_list("findings_total", "findings_by_severity", "findings_by_category")
    )
    return {
        "start": date_range.start,
        "end": date_range.end,
        "repository_id": repository_id,
        "total": sum(r[0] for r in rows),
        "by_severity": _merge_counts(r[1] for r in rows),
        "by_category": _merge_counts(r[2] for r in rows),
    }
