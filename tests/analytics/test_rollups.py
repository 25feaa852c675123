"""Rollups: equal to a direct aggregation of the raw events, idempotent, UTC buckets, retention."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from analytics import rollups, services
from analytics.models import Event, EventKind, Granularity, Rollup, RollupDirty
from tests.analytics.factories import completed, event, make_repository, record
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 17, 12, 30, tzinfo=UTC)  # a Wednesday
MEASURES = [
    f.name for f in Rollup._meta.get_fields() if f.name not in ("id", "workspace", "repository", "computed_at")
]


def rows(workspace, granularity=None) -> dict:
    """Rollup rows of a workspace keyed by (granularity, bucket, repository), without ids/timestamps."""
    qs = Rollup.objects.for_workspace(workspace)
    if granularity:
        qs = qs.filter(granularity=granularity)
    return {
        (r["granularity"], r["bucket_start"], r["repository_id"]): r
        for r in qs.values("repository_id", *MEASURES)
    }


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- property: rollup == direct aggregation -------------------------------------------------------

KINDS = [
    EventKind.RUN_CREATED,
    EventKind.RUN_STARTED,
    EventKind.RUN_COMPLETED,
    EventKind.RUN_FAILED,
    EventKind.RUN_SKIPPED,
    EventKind.RUN_CANCELLED,
    EventKind.FINDING_REPORTED,
    EventKind.ANNOTATION_POSTED,
    EventKind.COMMAND_EXECUTED,
    EventKind.BRIEFING_POSTED,
]

event_strategy = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        # within the last 20 days, to the microsecond, around bucket edges as often as not
        "offset_us": st.one_of(
            st.integers(min_value=0, max_value=20 * 86_400_000_000),
            st.integers(min_value=0, max_value=20).map(lambda d: d * 86_400_000_000),
            st.integers(min_value=1, max_value=20).map(lambda d: d * 86_400_000_000 - 1),
        ),
        "repo": st.sampled_from([None, 0, 1]),
        "value": st.integers(min_value=0, max_value=600_000),
        "tokens": st.integers(min_value=0, max_value=50_000),
        "severity": st.sampled_from(["critical", "high", "medium", "low", ""]),
        "category": st.sampled_from(["security", "bug", "style"]),
    }
)


def _inputs(specs, repos):
    items = []
    for spec in specs:
        at = NOW - timedelta(microseconds=spec["offset_us"])
        repo = None if spec["repo"] is None else repos[spec["repo"]]
        data = {}
        if spec["kind"] == EventKind.RUN_COMPLETED:
            data = {"duration_ms": spec["value"], "input_tokens": spec["tokens"], "output_tokens": spec["tokens"] // 3,
                    "cost_microusd": spec["tokens"] * 7}
        elif spec["kind"] == EventKind.RUN_FAILED:
            data = {"input_tokens": spec["tokens"], "cost_microusd": spec["tokens"]}
        elif spec["kind"] == EventKind.RUN_STARTED:
            data = {"queue_wait_ms": spec["value"]}
        elif spec["kind"] == EventKind.FINDING_REPORTED:
            data = {"severity": spec["severity"], "category": spec["category"]}
        items.append(event(spec["kind"], at, repository=repo, **data))
    return items


def expected_rollups(items, granularity):
    """The aggregation done in Python, independently of the SQL."""
    groups: dict = {}
    for item in items:
        bucket = rollups.bucket_floor(item.occurred_at, granularity)
        scopes = [None] + ([item.repository_id] if item.repository_id is not None else [])
        for scope in scopes:
            groups.setdefault((bucket, scope), []).append(item)
    expected = {}
    for (bucket, scope), evs in groups.items():
        by_kind = Counter(e.kind for e in evs)
        durations = [e.data["duration_ms"] for e in evs if e.kind == EventKind.RUN_COMPLETED]
        waits = [e.data["queue_wait_ms"] for e in evs if e.kind == EventKind.RUN_STARTED]
        spent = [e for e in evs if e.kind in (EventKind.RUN_COMPLETED, EventKind.RUN_FAILED)]
        findings = [e for e in evs if e.kind == EventKind.FINDING_REPORTED]
        expected[(granularity, bucket, scope)] = {
            "events_total": len(evs),
            "runs_created": by_kind[EventKind.RUN_CREATED],
            "runs_started": by_kind[EventKind.RUN_STARTED],
            "runs_completed": by_kind[EventKind.RUN_COMPLETED],
            "runs_failed": by_kind[EventKind.RUN_FAILED],
            "runs_skipped": by_kind[EventKind.RUN_SKIPPED],
            "runs_cancelled": by_kind[EventKind.RUN_CANCELLED],
            "findings_total": len(findings),
            "findings_by_severity": dict(Counter(e.data["severity"] or "unknown" for e in findings)),
            "findings_by_category": dict(Counter(e.data["category"] for e in findings)),
            "duration_count": len(durations),
            "duration_sum_ms": sum(durations),
            "duration_p50_ms": percentile_cont(durations, 0.5),
            "duration_p95_ms": percentile_cont(durations, 0.95),
            "queue_wait_count": len(waits),
            "queue_wait_sum_ms": sum(waits),
            "queue_wait_p50_ms": percentile_cont(waits, 0.5),
            "queue_wait_p95_ms": percentile_cont(waits, 0.95),
            "input_tokens": sum(e.data.get("input_tokens", 0) for e in spent),
            "output_tokens": sum(e.data.get("output_tokens", 0) for e in spent),
            "cost_microusd": sum(e.data.get("cost_microusd", 0) for e in spent),
            "annotations_posted": by_kind[EventKind.ANNOTATION_POSTED],
            "commands_executed": by_kind[EventKind.COMMAND_EXECUTED],
            "briefings_posted": by_kind[EventKind.BRIEFING_POSTED],
        }
    return expected


def assert_rows_equal(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, want in expected.items():
        got = actual[key]
        for field, value in want.items():
            if isinstance(value, float):
                assert got[field] == pytest.approx(value), (key, field)
            else:
                assert got[field] == value, (key, field)


@given(specs=st.lists(event_strategy, min_size=1, max_size=40))
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_rollups_equal_a_direct_aggregation_of_random_events(specs) -> None:
    with transaction.atomic():
        workspace = make_workspace()
        repos = [make_repository(workspace), make_repository(workspace)]
        items = _inputs(specs, [r.pk for r in repos])
        assert services.record_events(workspace_id=workspace.pk, events=items) == len(items)
        services.update_rollups(now=NOW)  # the incremental path (dirty markers)
        for granularity in (Granularity.DAY, Granularity.WEEK, Granularity.MONTH):
            assert_rows_equal(
                {k: v for k, v in rows(workspace, granularity).items()},
                {(g, b, s): v for (g, b, s), v in expected_rollups(items, granularity).items()},
            )
        recent = [i for i in items if i.occurred_at >= rollups.hourly_cutoff(NOW)]
        assert_rows_equal(rows(workspace, Granularity.HOUR), expected_rollups(recent, Granularity.HOUR))
        # ...and the full rebuild computes the very same rows
        incremental = rows(workspace)
        services.rebuild_rollups(workspace_ids=[workspace.pk], now=NOW)
        assert rows(workspace) == incremental
        transaction.set_rollback(True)


# --- idempotency -----------------------------------------------------------------------------------


def _some_history(workspace):
    repo = make_repository(workspace)
    items = []
    for day in range(10):
        at = NOW - timedelta(days=day, hours=day)
        items += [
            event(EventKind.RUN_CREATED, at, repository=repo),
            event(EventKind.RUN_STARTED, at, repository=repo, queue_wait_ms=100 * day),
            completed(at, duration_ms=1000 + day * 10, repository=repo, input_tokens=10, cost_microusd=5),
            event(EventKind.FINDING_REPORTED, at, repository=repo, severity="high", category="bug"),
            event(EventKind.BRIEFING_POSTED, at),
        ]
    record(workspace, *items)
    return repo, items


def test_recomputing_a_bucket_gives_the_same_row() -> None:
    workspace = make_workspace()
    _some_history(workspace)
    services.update_rollups(now=NOW)
    first = rows(workspace)
    assert first
    day = rollups.day_start((NOW - timedelta(days=3)).date())
    with transaction.atomic():
        rollups._lock()
        rollups.recompute(Granularity.DAY, [rollups.Target(workspace.pk, day, day + timedelta(days=1))], now=NOW)
        rollups.recompute(Granularity.DAY, [rollups.Target(workspace.pk, day, day + timedelta(days=1))], now=NOW)
    assert rows(workspace) == first
    services.rebuild_rollups(workspace_ids=[workspace.pk], now=NOW)
    services.rebuild_rollups(workspace_ids=[workspace.pk], now=NOW)
    assert rows(workspace) == first
    assert services.update_rollups(now=NOW)["days"] == 0  # nothing dirty: nothing recomputed


def test_late_events_update_only_their_buckets_and_match_a_rebuild() -> None:
    workspace, other = make_workspace(), make_workspace()
    _some_history(workspace)
    _some_history(other)
    services.update_rollups(now=NOW)
    other_before = rows(other)
    late = completed(NOW - timedelta(days=2), duration_ms=99_000)
    record(workspace, late)
    assert list(RollupDirty.objects.values_list("workspace_id", "day")) == [(workspace.pk, late.occurred_at.date())]
    result = services.update_rollups(now=NOW)
    assert result["days"] == 1
    assert result["day"] == 2  # the workspace row and the one repository of that day
    day = rows(workspace, Granularity.DAY)[(Granularity.DAY, rollups.day_start(late.occurred_at.date()), None)]
    assert day["runs_completed"] == 2 and day["duration_sum_ms"] == 99_000 + 1020
    incremental = rows(workspace)
    services.rebuild_rollups(now=NOW)
    assert rows(workspace) == incremental
    assert rows(other) == other_before


def test_a_repeated_key_is_recorded_once_and_counted_once() -> None:
    workspace = make_workspace()
    item = completed(NOW, duration_ms=500)
    assert record(workspace, item, item) == 1
    assert record(workspace, item) == 0
    assert Event.objects.filter(idempotency_key=item.key).count() == 1
    services.update_rollups(now=NOW)
    assert rows(workspace, Granularity.DAY)[(Granularity.DAY, rollups.day_start(NOW.date()), None)]["runs_completed"] == 1


# --- time zones and bucket boundaries --------------------------------------------------------------


def test_buckets_are_utc_days_whatever_the_offset_of_the_input() -> None:
    workspace = make_workspace()
    plus5 = dt_timezone(timedelta(hours=5))
    minus8 = dt_timezone(timedelta(hours=-8))
    record(
        workspace,
        # 2026-06-16 23:59:59.999999 UTC: last instant of the 16th
        completed(datetime(2026, 6, 16, 23, 59, 59, 999999, tzinfo=UTC), duration_ms=1),
        # 2026-06-17 00:00 UTC exactly: first instant of the 17th
        completed(datetime(2026, 6, 17, 0, 0, tzinfo=UTC), duration_ms=2),
        # 2026-06-17 04:30 at +05:00 is 2026-06-16 23:30 UTC: the 16th
        completed(datetime(2026, 6, 17, 4, 30, tzinfo=plus5), duration_ms=4),
        # 2026-06-16 17:00 at -08:00 is 2026-06-17 01:00 UTC: the 17th
        completed(datetime(2026, 6, 16, 17, 0, tzinfo=minus8), duration_ms=8),
    )
    with connection.cursor() as cursor:  # the SQL must not depend on the session's time zone
        cursor.execute("SET TIME ZONE 'Pacific/Kiritimati'")
    try:
        services.update_rollups(now=NOW)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
    days = rows(workspace, Granularity.DAY)
    d16 = days[(Granularity.DAY, datetime(2026, 6, 16, tzinfo=UTC), None)]
    d17 = days[(Granularity.DAY, datetime(2026, 6, 17, tzinfo=UTC), None)]
    assert (d16["runs_completed"], d16["duration_sum_ms"]) == (2, 1 + 4)
    assert (d17["runs_completed"], d17["duration_sum_ms"]) == (2, 2 + 8)
    hours = rows(workspace, Granularity.HOUR)
    assert hours[(Granularity.HOUR, datetime(2026, 6, 16, 23, tzinfo=UTC), None)]["duration_sum_ms"] == 1 + 4
    assert hours[(Granularity.HOUR, datetime(2026, 6, 17, 1, tzinfo=UTC), None)]["duration_sum_ms"] == 8


def test_week_and_month_boundaries() -> None:
    workspace = make_workspace()
    record(
        workspace,
        completed(datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC), duration_ms=1),  # Sunday, May
        completed(datetime(2026, 6, 1, 0, 0, tzinfo=UTC), duration_ms=2),  # Monday, June
        completed(datetime(2026, 6, 7, 23, 59, 59, tzinfo=UTC), duration_ms=4),  # Sunday
        completed(datetime(2026, 6, 8, 0, 0, tzinfo=UTC), duration_ms=8),  # Monday
    )
    services.update_rollups(now=NOW)
    weeks = {k[1]: v["duration_sum_ms"] for k, v in rows(workspace, Granularity.WEEK).items() if k[2] is None}
    assert weeks == {
        datetime(2026, 5, 25, tzinfo=UTC): 1,
        datetime(2026, 6, 1, tzinfo=UTC): 2 + 4,
        datetime(2026, 6, 8, tzinfo=UTC): 8,
    }
    months = {k[1]: v["duration_sum_ms"] for k, v in rows(workspace, Granularity.MONTH).items() if k[2] is None}
    assert months == {datetime(2026, 5, 1, tzinfo=UTC): 1, datetime(2026, 6, 1, tzinfo=UTC): 2 + 4 + 8}


def test_bucket_arithmetic() -> None:
    december = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert rollups.bucket_floor(december, Granularity.MONTH) == datetime(2026, 12, 1, tzinfo=UTC)
    assert rollups.bucket_next(datetime(2026, 12, 1, tzinfo=UTC), Granularity.MONTH) == datetime(2027, 1, 1, tzinfo=UTC)
    assert rollups.bucket_floor(datetime(2027, 1, 1, 3, tzinfo=UTC), Granularity.WEEK) == datetime(2026, 12, 28, tzinfo=UTC)
    tokyo = dt_timezone(timedelta(hours=9))
    assert rollups.bucket_floor(datetime(2026, 7, 1, 8, 59, tzinfo=tokyo), Granularity.DAY) == datetime(2026, 6, 30, tzinfo=UTC)
    assert rollups.bucket_ceil(datetime(2026, 7, 1, tzinfo=UTC), Granularity.DAY) == datetime(2026, 7, 1, tzinfo=UTC)


def test_hourly_rollups_cover_only_the_last_48_hours() -> None:
    workspace = make_workspace()
    record(
        workspace,
        completed(NOW - timedelta(hours=3), duration_ms=1),
        completed(NOW - timedelta(hours=47), duration_ms=2),
        completed(NOW - timedelta(hours=60), duration_ms=4),
    )
    services.update_rollups(now=NOW)
    hours = sorted(k[1] for k in rows(workspace, Granularity.HOUR) if k[2] is None)
    assert hours == [rollups.bucket_floor(NOW - timedelta(hours=h), Granularity.HOUR) for h in (47, 3)]
    # two days later the cron prunes the hours that fell out of the window
    services.update_rollups(now=NOW + timedelta(hours=44))
    hours = sorted(k[1] for k in rows(workspace, Granularity.HOUR) if k[2] is None)
    assert hours == [rollups.bucket_floor(NOW - timedelta(hours=3), Granularity.HOUR)]


# --- retention -------------------------------------------------------------------------------------


@override_settings(ANALYTICS_EVENT_RETENTION_DAYS=30)
def test_retention_deletes_old_events_and_keeps_rollups() -> None:
    workspace = make_workspace()
    real_now = datetime.now(UTC)
    old = completed(real_now - timedelta(days=20), duration_ms=7)
    new = completed(real_now - timedelta(days=1), duration_ms=9)
    record(workspace, old, new)
    services.update_rollups()
    before = rows(workspace, Granularity.DAY)
    # 15 days later (retention 30 days) the old event is past the horizon
    later = real_now + timedelta(days=15)
    assert services.purge_expired_events(now=later) == 1
    assert list(Event.objects.for_workspace(workspace).values_list("idempotency_key", flat=True)) == [new.key]
    assert rows(workspace, Granularity.DAY) == before
    # a rebuild never recomputes buckets whose events retention removed
    services.rebuild_rollups(workspace_ids=[workspace.pk], since=(real_now - timedelta(days=60)).date(), now=later)
    assert rows(workspace, Granularity.DAY) == before
    # events older than the horizon are not recorded at all
    assert record(workspace, completed(real_now - timedelta(days=31), duration_ms=1)) == 0


def test_the_retention_period_defaults_to_400_days(settings) -> None:
    assert settings.ANALYTICS_EVENT_RETENTION_DAYS == 400
    assert rollups.retention_horizon(NOW) == rollups.day_start((NOW - timedelta(days=400)).date())
