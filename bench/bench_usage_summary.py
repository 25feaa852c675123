"""Usage summary at millions of ledger rows: the rollup read vs the naive aggregate, same run.

Builds (once; reused on later runs) a usage ledger of BENCH_USAGE_ROWS rows (default 2,000,000)
for a few workspaces over 12 monthly periods, with one heavy workspace whose current period alone
holds half the rows, plus the matching `UsageTotal` rollup. Then, for that workspace's current
period, it times:

- rollup:   `billing.selectors.usage_totals()` — reads the few `UsageTotal` rows;
- baseline: the naive summary, `SUM(quantity) GROUP BY metric` over `UsageRecord` for the
            workspace and period, using the ledger's own (workspace, period_start, metric) index.

It also times the write side: `record_usage()` (ledger insert + rollup upsert in one transaction)
against a plain ledger INSERT, so the price of keeping the rollup is visible. Prints medians and
ratios. Run through `make bench` (bin/bench) — never from the test suite.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.database import require_postgresql  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

ROWS = int(os.environ.get("BENCH_USAGE_ROWS", "2000000"))
BENCH_SLUG = f"bench-usage-{ROWS}"


def timed(func, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    require_postgresql("bench_usage_summary")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    call_command("migrate", verbosity=0)

    from billing import selectors, services
    from billing.models import Metric, UsageRecord
    from billing.periods import add_months, calendar_month
    from workspaces import services as workspace_services
    from workspaces.models import Workspace

    workspace = Workspace.objects.filter(slug=BENCH_SLUG).first()
    period = calendar_month(__import__("django.utils.timezone", fromlist=["now"]).now())
    if workspace is None or not UsageRecord.objects.filter(workspace=workspace).exists():
        print(f"building the ledger: {ROWS:,} rows (once; reused by later runs) ...", flush=True)
        user_model = get_user_model()
        owner, _ = user_model.objects.get_or_create(username=f"{BENCH_SLUG}-owner", defaults={"email": "bench@example.com"})
        workspace = workspace or workspace_services.workspace_create(name=BENCH_SLUG, slug=BENCH_SLUG, owner=owner, plan="team")
        others = []
        for i in range(3):
            slug = f"{BENCH_SLUG}-other-{i}"
            others.append(Workspace.objects.filter(slug=slug).first() or workspace_services.workspace_create(name=slug, slug=slug, owner=owner))
        metrics = [m for m in Metric.values if m != Metric.PLATFORM_AI_COST_MICROUSD]
        heavy = ROWS // 2  # the heavy workspace's current period
        rest = ROWS - heavy
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO billing_usagerecord
                    (workspace_id, metric, quantity, occurred_at, period_start, source, idempotency_key, created_at)
                SELECT %s, (%s::text[])[1 + g %% %s], 1 + g %% 977, %s + (g %% 86400) * interval '1 second',
                       %s, 'bench', 'bench-cur-' || %s || '-' || g, now()
                FROM generate_series(1, %s) AS g
                """,
                [workspace.pk, metrics, len(metrics), period.start, period.start, workspace.pk, heavy],
            )
            ids = [workspace.pk] + [w.pk for w in others]
            past = [add_months(period.start, -k) for k in range(1, 12)]
            cursor.execute(
                """
                INSERT INTO billing_usagerecord
                    (workspace_id, metric, quantity, occurred_at, period_start, source, idempotency_key, created_at)
                SELECT (%s::bigint[])[1 + g %% %s], (%s::text[])[1 + (g / 7) %% %s], 1 + g %% 977,
                       ps, ps, 'bench', 'bench-past-' || %s || '-' || g, now()
                FROM generate_series(1, %s) AS g,
                     LATERAL (SELECT (%s::timestamptz[])[1 + g %% %s] AS ps) AS p
                """,
                [ids, len(ids), metrics, len(metrics), workspace.pk, rest, past, len(past)],
            )
            cursor.execute(
                """
                INSERT INTO billing_usagetotal (workspace_id, metric, period_start, quantity, updated_at)
                SELECT workspace_id, metric, period_start, SUM(quantity), now() FROM billing_usagerecord
                WHERE idempotency_key LIKE 'bench-%%' GROUP BY workspace_id, metric, period_start
                ON CONFLICT (workspace_id, metric, period_start) DO UPDATE SET quantity = EXCLUDED.quantity
                """
            )
            cursor.execute("ANALYZE billing_usagerecord")
            cursor.execute("ANALYZE billing_usagetotal")
        print(f"built in {time.perf_counter() - started:.1f} s", flush=True)

    total_rows = UsageRecord.objects.count()
    in_period = UsageRecord.objects.filter(workspace=workspace, period_start=period.start).count()

    def rollup() -> dict:
        return selectors.usage_totals(workspace.pk, period.start)

    def naive() -> dict:
        return dict(
            UsageRecord.objects.filter(workspace=workspace, period_start=period.start)
            .values_list("metric")
            .annotate(total=Sum("quantity"))
            .values_list("metric", "total")
        )

    fast, slow = rollup(), naive()
    assert all(fast[m] == slow.get(m, 0) for m in fast), (fast, slow)  # same answer both ways
    naive()  # warm the cache for the baseline too: compare steady states
    rollup_ms = timed(rollup, 200)
    naive_ms = timed(naive, 7)

    # Write side: what keeping the rollup costs per usage event.
    stamp = time.time_ns()
    counter = iter(range(10**9))

    def write_with_rollup() -> None:
        services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1,
                              idempotency_key=f"bench-w-{stamp}-{next(counter)}")

    def plain_insert() -> None:
        UsageRecord.objects.create(workspace=workspace, metric="command", quantity=1, occurred_at=period.start,
                                   period_start=period.start, idempotency_key=f"bench-p-{stamp}-{next(counter)}")

    write_ms = timed(write_with_rollup, 300)
    insert_ms = timed(plain_insert, 300)
    UsageRecord.objects.filter(idempotency_key__startswith=f"bench-w-{stamp}").delete()
    UsageRecord.objects.filter(idempotency_key__startswith=f"bench-p-{stamp}").delete()
    services_total = selectors.usage_total(workspace.pk, "command", period.start)
    with connection.cursor() as cursor:  # put the rollup back to the ledger's truth after the write test
        cursor.execute(
            "UPDATE billing_usagetotal SET quantity = %s WHERE workspace_id = %s AND metric = 'command' AND period_start = %s",
            [services_total - 300, workspace.pk, period.start],
        )

    print(f"ledger rows: {total_rows:,}; rows in the summarised workspace-period: {in_period:,}")
    print(f"usage summary, rollup (UsageTotal):            median {rollup_ms:8.3f} ms")
    print(f"usage summary, baseline (SUM over the ledger): median {naive_ms:8.3f} ms")
    print(f"ratio baseline/rollup: {naive_ms / rollup_ms:,.0f}x faster with the rollup")
    print(f"record_usage (ledger insert + rollup upsert): median {write_ms:6.3f} ms")
    print(f"baseline plain ledger insert:                 median {insert_ms:6.3f} ms")
    print(f"ratio write cost with/without rollup: {write_ms / insert_ms:.2f}x")


if __name__ == "__main__":
    main()
