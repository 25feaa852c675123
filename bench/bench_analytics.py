"""Analytics benchmark (issue 9): 1,000,000 events over 365 days for 50 workspaces.

Prints
- the time to build every rollup from scratch (target < 60 s), against a same-run baseline: one
  plain `GROUP BY workspace, day` count over the same table (the cheapest possible pass);
- the time of one incremental rollup run after 10,000 new events recorded through the ingestion
  service (target < 2 s), against the full build;
- the p95 latency of the time-series endpoint for one workspace over a year (target < 50 ms),
  against the p95 of the workspace detail endpoint (same auth and tenant resolution, trivial body).

Run by `make bench` (bin/bench). Uses DATABASE_URL (created if missing) and REDIS_URL from bin/bench.
The 1,000,000 events are generated in SQL (generate_series): the point is the rollups and the API,
not the insert path; the 10,000 incremental events go through `analytics.services.record_events`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.database import require_postgresql  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel.settings")
# The endpoint is measured, not the API throttle.
os.environ["API_THROTTLE_RATE_TOKEN"] = "1000000/min"  # noqa: S105 - a rate, not a secret
os.environ["API_THROTTLE_RATE_USER"] = "1000000/min"
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

EVENTS = int(os.environ.get("BENCH_ANALYTICS_EVENTS", "1000000"))
WORKSPACES = 50
REPOSITORIES_PER_WORKSPACE = 5
DAYS = 365
INCREMENTAL_EVENTS = 10_000
REQUESTS = 200


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - started, result


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    require_postgresql("bench_analytics")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)

    from rest_framework.test import APIClient

    from analytics import services
    from analytics.models import EventKind
    from integrations.models import Repository, SourceProvider
    from workspaces import services as workspace_services
    from workspaces.models import Workspace

    # --- data ---------------------------------------------------------------------------------
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE analytics_event, analytics_rollup, analytics_rollupdirty")
    workspaces = list(Workspace.objects.filter(slug__startswith="bench-analytics-").order_by("pk"))
    if len(workspaces) < WORKSPACES:
        from django.contrib.auth import get_user_model

        owner, _ = get_user_model().objects.get_or_create(username="bench-analytics", email="bench@example.com")
        for i in range(len(workspaces), WORKSPACES):
            workspace = workspace_services.workspace_create(name=f"bench-analytics-{i:02d}", owner=owner, plan="team")
            for r in range(REPOSITORIES_PER_WORKSPACE):
                Repository.objects.create(
                    workspace=workspace, provider=SourceProvider.LOCAL_GIT, full_name=f"bench/{i:02d}-{r}"
                )
        workspaces = list(Workspace.objects.filter(slug__startswith="bench-analytics-").order_by("pk"))
    workspaces = workspaces[:WORKSPACES]
    repos = {w.pk: list(Repository.objects.filter(workspace=w).values_list("pk", flat=True)) for w in workspaces}
    ws_ids = [w.pk for w in workspaces]
    repo_matrix = [repos[w] for w in ws_ids]
    now = timezone.now()

    # Kinds in proportions like a real workspace: per run created/started/completed, ~2 findings,
    # ~1 annotation; a few failures, skips, commands.
    generate = """
    INSERT INTO analytics_event (workspace_id, repository_id, kind, actor, occurred_at, recorded_at, data,
                                 idempotency_key, correlation_id)
    SELECT ws, repo, kind, '', at, at, data, 'bench:' || i, ''
    FROM (
        SELECT i,
               (%(ws)s::bigint[])[1 + (i %% %(nws)s)] AS ws,
               (%(repos)s::bigint[])[1 + (i %% %(nws)s)][1 + ((i / %(nws)s) %% %(nrepo)s)] AS repo,
               %(now)s::timestamptz - (random() * interval '365 days') AS at,
               k.kind, k.data
        FROM generate_series(1, %(n)s) AS i
        CROSS JOIN LATERAL (
            SELECT CASE
                WHEN r < 0.16 THEN 'run_created' WHEN r < 0.31 THEN 'run_started'
                WHEN r < 0.45 THEN 'run_completed' WHEN r < 0.47 THEN 'run_failed'
                WHEN r < 0.48 THEN 'run_skipped' WHEN r < 0.75 THEN 'finding_reported'
                WHEN r < 0.95 THEN 'annotation_posted' ELSE 'command_executed' END AS kind,
                CASE
                WHEN r < 0.16 THEN '{}'::jsonb
                WHEN r < 0.31 THEN jsonb_build_object('queue_wait_ms', (random() * 60000)::int)
                WHEN r < 0.47 THEN jsonb_build_object('duration_ms', (random() * 300000)::int,
                    'input_tokens', (random() * 20000)::int, 'output_tokens', (random() * 3000)::int,
                    'cost_microusd', (random() * 90000)::int)
                WHEN r < 0.75 AND r >= 0.48 THEN jsonb_build_object(
                    'severity', (ARRAY['critical','high','medium','low','info'])[1 + (random() * 4)::int],
                    'category', (ARRAY['security','bug','performance','style','maintainability'])[1 + (random() * 4)::int])
                ELSE '{}'::jsonb END AS data
            FROM (SELECT random() + 0 * i AS r) rr
        ) k
    ) g
    """
    with connection.cursor() as cursor:
        gen_s, _ = timed(
            cursor.execute,
            generate,
            {"ws": ws_ids, "repos": repo_matrix, "nws": len(ws_ids), "nrepo": REPOSITORIES_PER_WORKSPACE, "now": now, "n": EVENTS},
        )
        cursor.execute("ANALYZE analytics_event")
    print(f"analytics: generated {EVENTS:,} events ({len(ws_ids)} workspaces, {DAYS} days) in SQL in {gen_s:.1f} s")

    # --- full build vs baseline ---------------------------------------------------------------
    def baseline_scan() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT workspace_id, date_trunc('day', occurred_at AT TIME ZONE 'UTC'), count(*) "
                "FROM analytics_event GROUP BY 1, 2"
            )
            cursor.fetchall()

    base_s, _ = timed(baseline_scan)
    full_s, written = timed(services.rebuild_rollups, now=now)
    print(
        f"analytics: full rollup build       {full_s:8.2f} s   (target < 60 s) {verdict(full_s < 60)}   "
        f"baseline plain GROUP BY day scan {base_s:.2f} s   ratio {full_s / base_s:.1f}x   rows {written}"
    )

    # --- incremental --------------------------------------------------------------------------
    per_ws = INCREMENTAL_EVENTS // len(ws_ids)
    ingest_started = time.perf_counter()
    for index, workspace_id in enumerate(ws_ids):
        items = []
        for j in range(per_ws):
            at = now - timedelta(minutes=(j * 7) % 1440)
            kind = (EventKind.RUN_COMPLETED, EventKind.FINDING_REPORTED, EventKind.RUN_STARTED)[j % 3]
            data = {"duration_ms": 1000 + j, "input_tokens": 10} if j % 3 == 0 else (
                {"severity": "high", "category": "bug"} if j % 3 == 1 else {"queue_wait_ms": 100 + j}
            )
            items.append(
                services.EventInput(
                    key=f"bench-inc:{index}:{j}:{now.timestamp()}",
                    kind=str(kind),
                    occurred_at=at,
                    repository_id=repos[workspace_id][j % REPOSITORIES_PER_WORKSPACE],
                    data=data,
                )
            )
        services.record_events(workspace_id=workspace_id, events=items)
    ingest_s = time.perf_counter() - ingest_started
    inc_s, inc = timed(services.update_rollups, now=now)
    print(
        f"analytics: incremental run         {inc_s:8.2f} s   (target < 2 s) {verdict(inc_s < 2)}   "
        f"after {per_ws * len(ws_ids):,} new events (ingested in {ingest_s:.2f} s)   "
        f"ratio to the full build {inc_s / full_s:.3f}x   {inc}"
    )

    # --- endpoint latency ---------------------------------------------------------------------
    workspace = workspaces[0]
    _, secret = workspace_services.api_token_create(workspace=workspace, user=workspace.owner, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    series_url = f"/api/v1/workspaces/{workspace.slug}/analytics/timeseries/"
    params = {"metric": "runs_completed", "interval": "day", "range": "365d"}
    detail_url = f"/api/v1/workspaces/{workspace.slug}/"

    def sample(url: str, query: dict) -> list[float]:
        for _ in range(10):  # warm-up: connections, caches
            assert client.get(url, query).status_code == 200
        out = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            response = client.get(url, query)
            out.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:200]
        return out

    detail = sample(detail_url, {})
    series = sample(series_url, params)
    points = len(client.get(series_url, params).json()["points"])
    series_p95, detail_p95 = p95(series), p95(detail)
    print(
        f"analytics: timeseries p95 (1 workspace, 365 days, {points} points) {series_p95:6.1f} ms   "
        f"(target < 50 ms) {verdict(series_p95 < 50)}   baseline workspace-detail p95 {detail_p95:.1f} ms   "
        f"ratio {series_p95 / detail_p95:.1f}x   (median {statistics.median(series):.1f} ms, {REQUESTS} requests)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
