"""The dashboard API reads the rollups: its numbers are the rollups' numbers, tenant-scoped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum

from analytics import rollups, services
from analytics.models import EventKind, Granularity, Rollup
from tests.analytics.factories import completed, event, make_repository, record
from tests.workspaces.factories import add_member, make_workspace, session_client, token_client
from workspaces.models import Role

pytestmark = pytest.mark.django_db

TODAY = datetime.now(UTC).date()


def at(days_ago: int, hour: int = 12):
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


@pytest.fixture
def world():
    """A workspace with 60 days of activity in two repositories, rolled up."""
    workspace = make_workspace()
    api = make_repository(workspace, "acme/api")
    web = make_repository(workspace, "acme/web")
    items = []
    for days_ago in range(60):
        repo = api if days_ago % 3 else web
        items += [
            event(EventKind.RUN_CREATED, at(days_ago), repository=repo),
            event(EventKind.RUN_STARTED, at(days_ago), repository=repo, queue_wait_ms=200 + days_ago),
            completed(at(days_ago), repository=repo, duration_ms=1000 * (1 + days_ago % 5), input_tokens=100,
                      output_tokens=10, cost_microusd=50),
            event(EventKind.FINDING_REPORTED, at(days_ago), repository=repo, severity="high" if days_ago % 2 else "low",
                  category="security" if days_ago % 4 == 0 else "bug"),
            event(EventKind.ANNOTATION_POSTED, at(days_ago), repository=repo),
        ]
        if days_ago % 7 == 0:
            items.append(event(EventKind.RUN_FAILED, at(days_ago, 13), repository=web, input_tokens=5))
    record(workspace, *items)
    services.update_rollups()
    return {"workspace": workspace, "api": api, "web": web, "client": session_client(workspace.owner)}


def url(workspace, name: str) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/analytics/{name}/"


def day_sum(workspace, field: str, start, end, repository=None) -> int:
    qs = Rollup.objects.for_workspace(workspace).filter(
        granularity=Granularity.DAY,
        bucket_start__gte=rollups.day_start(start),
        bucket_start__lt=rollups.day_start(end + timedelta(days=1)),
    )
    qs = qs.filter(repository=repository) if repository else qs.filter(repository__isnull=True)
    return qs.aggregate(total=Sum(field))["total"] or 0


def test_overview_numbers_are_the_rollups_with_change_vs_the_previous_range(world) -> None:
    ws = world["workspace"]
    response = world["client"].get(url(ws, "overview"), {"range": "14d"})
    assert response.status_code == 200, response.content
    body = response.json()
    start, end = TODAY - timedelta(days=13), TODAY
    prev_start, prev_end = start - timedelta(days=14), start - timedelta(days=1)
    assert (body["start"], body["end"]) == (start.isoformat(), end.isoformat())
    assert (body["previous_start"], body["previous_end"]) == (prev_start.isoformat(), prev_end.isoformat())
    for metric in ("runs_created", "runs_completed", "runs_failed", "findings_total", "input_tokens", "cost_microusd",
                   "annotations_posted"):
        value, previous = day_sum(ws, metric, start, end), day_sum(ws, metric, prev_start, prev_end)
        assert body["metrics"][metric]["value"] == value, metric
        assert body["metrics"][metric]["previous"] == previous, metric
        assert body["metrics"][metric]["change"] == value - previous
    assert body["metrics"]["runs_completed"]["value"] == 14
    assert body["metrics"]["input_tokens"]["value"] == 14 * 100 + 2 * 5  # days 0 and 7 had a failed run
    duration = day_sum(ws, "duration_sum_ms", start, end) / day_sum(ws, "duration_count", start, end)
    assert body["metrics"]["duration_avg_ms"]["value"] == pytest.approx(duration)
    completed_, failed = day_sum(ws, "runs_completed", start, end), day_sum(ws, "runs_failed", start, end)
    assert body["metrics"]["success_rate"]["value"] == pytest.approx(completed_ / (completed_ + failed))
    failed_prev = body["metrics"]["runs_failed"]
    assert failed_prev["change_pct"] == pytest.approx((failed_prev["value"] - failed_prev["previous"]) / failed_prev["previous"] * 100, abs=0.01)


def test_overview_of_one_repository(world) -> None:
    ws, web = world["workspace"], world["web"]
    body = world["client"].get(url(ws, "overview"), {"range": "30d", "repository": web.pk}).json()
    start = TODAY - timedelta(days=29)
    assert body["repository_id"] == web.pk
    assert body["metrics"]["runs_completed"]["value"] == day_sum(ws, "runs_completed", start, TODAY, web) == 10


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_time_series_points_are_the_rollup_rows_of_the_interval(world, interval) -> None:
    ws = world["workspace"]
    response = world["client"].get(url(ws, "timeseries"), {"metric": "duration_p95_ms", "interval": interval, "range": "45d"})
    assert response.status_code == 200, response.content
    body = response.json()
    stored = {
        r.bucket_start: r.duration_p95_ms
        for r in Rollup.objects.for_workspace(ws).filter(granularity=interval, repository__isnull=True)
    }
    start = TODAY - timedelta(days=44)
    expected_buckets = []
    bucket = rollups.bucket_floor(rollups.day_start(start), interval)
    while bucket < rollups.day_start(TODAY + timedelta(days=1)):
        expected_buckets.append(bucket)
        bucket = rollups.bucket_next(bucket, interval)
    assert [datetime.fromisoformat(p["bucket"].replace("Z", "+00:00")) for p in body["points"]] == expected_buckets
    for point in body["points"]:
        moment = datetime.fromisoformat(point["bucket"].replace("Z", "+00:00"))
        assert point["value"] == pytest.approx(stored[moment])


def test_time_series_zero_fills_counters_and_filters_by_repository(world) -> None:
    ws, web = world["workspace"], world["web"]
    body = world["client"].get(
        url(ws, "timeseries"),
        {"metric": "runs_completed", "interval": "day", "start": (TODAY - timedelta(days=5)).isoformat(),
         "repository": web.pk},
    ).json()
    values = [p["value"] for p in body["points"]]
    # web gets the days divisible by 3 (days_ago 0 and 3 in the last six days)
    assert values == [0, 0, 1, 0, 0, 1]
    body = world["client"].get(
        url(ws, "timeseries"), {"metric": "duration_p50_ms", "start": (TODAY - timedelta(days=100)).isoformat(),
                                "end": (TODAY - timedelta(days=99)).isoformat()}
    ).json()
    assert [p["value"] for p in body["points"]] == [None, None]


def test_hourly_series_covers_the_last_48_hours(world) -> None:
    ws = world["workspace"]
    body = world["client"].get(url(ws, "timeseries"), {"metric": "runs_created", "interval": "hour", "range": "3d"}).json()
    stored = {
        r.bucket_start: r.runs_created
        for r in Rollup.objects.for_workspace(ws).filter(granularity="hour", repository__isnull=True)
    }
    assert 48 <= len(body["points"]) <= 49
    got = {datetime.fromisoformat(p["bucket"].replace("Z", "+00:00")): p["value"] for p in body["points"]}
    assert any(got.values())
    for bucket, value in stored.items():
        if bucket in got:  # the fixture also has events later today: those hours are not served yet
            assert got[bucket] == value
    assert max(got) == rollups.bucket_floor(datetime.now(UTC), "hour")


def test_top_repositories(world) -> None:
    ws = world["workspace"]
    body = world["client"].get(url(ws, "top-repositories"), {"range": "30d", "order_by": "runs_completed"}).json()
    start = TODAY - timedelta(days=29)
    names = [r["full_name"] for r in body["repositories"]]
    assert names == ["acme/api", "acme/web"]
    for row, repo in zip(body["repositories"], (world["api"], world["web"]), strict=True):
        assert row["repository_id"] == repo.pk
        for field in ("runs_completed", "runs_failed", "findings_total", "cost_microusd"):
            assert row[field] == day_sum(ws, field, start, TODAY, repo), field
    body = world["client"].get(url(ws, "top-repositories"), {"order_by": "runs_failed", "limit": 1}).json()
    assert [r["full_name"] for r in body["repositories"]] == ["acme/web"]


def test_findings_breakdown(world) -> None:
    ws = world["workspace"]
    body = world["client"].get(url(ws, "findings"), {"range": "8d"}).json()
    assert body["total"] == 8
    # days_ago 0..7: odd -> high (1,3,5,7), even -> low; multiples of 4 -> security (0, 4)
    assert body["by_severity"] == {"high": 4, "low": 4}
    assert body["by_category"] == {"bug": 6, "security": 2}


def test_a_viewer_and_a_read_only_token_can_read(world) -> None:
    ws = world["workspace"]
    viewer = add_member(ws, Role.VIEWER)
    assert session_client(viewer.user).get(url(ws, "overview")).status_code == 200
    assert token_client(ws, ws.owner, scopes=("read",)).get(url(ws, "findings")).status_code == 200


def test_invalid_parameters_answer_400_with_the_error_body(world) -> None:
    ws, client = world["workspace"], world["client"]
    response = client.get(url(ws, "timeseries"), {"metric": "nope", "interval": "year"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and {"metric", "interval"} <= set(error["fields"])
    assert client.get(url(ws, "overview"), {"start": "2026-05-02", "end": "2026-05-01"}).status_code == 400
    assert client.get(url(ws, "overview"), {"range": "900d"}).status_code == 400
    assert client.get(url(ws, "overview"), {"range": "soon"}).status_code == 400


def test_another_workspaces_repository_answers_404(world) -> None:
    other = make_workspace()
    foreign = make_repository(other)
    response = world["client"].get(url(world["workspace"], "overview"), {"repository": foreign.pk})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_anonymous_requests_answer_401(world) -> None:
    from rest_framework.test import APIClient

    assert APIClient().get(url(world["workspace"], "overview")).status_code == 401


@pytest.mark.parametrize("metric", ["success_rate", "duration_avg_ms"])
def test_ratio_series_are_computed_from_the_rollup_sums(world, metric) -> None:
    ws = world["workspace"]
    body = world["client"].get(url(ws, "timeseries"), {"metric": metric, "interval": "week", "range": "30d"}).json()
    stored = {r.bucket_start: r for r in Rollup.objects.for_workspace(ws).filter(granularity="week", repository__isnull=True)}
    for point in body["points"]:
        row = stored[datetime.fromisoformat(point["bucket"].replace("Z", "+00:00"))]
        if metric == "success_rate":
            expected = row.runs_completed / (row.runs_completed + row.runs_failed)
        else:
            expected = row.duration_sum_ms / row.duration_count
        assert point["value"] == pytest.approx(expected)
