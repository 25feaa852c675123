"""Operator console benchmark: the operations dashboard under a full day of counters.

State: 24 hours of per-minute counters for every queue (the most `queues.stats.series` can hold),
200 jobs waiting on three queues, 100 pending dead letters.

Prints the p50/p95 of
- the live fragment (`?part=live`: collect_health + table), what each open dashboard fetches
  every 5 s;
- the charts fragment computed (cache cleared: 14 queues x 1,440 hashes) and served from the
  once-a-minute cache, what each open dashboard fetches every 60 s;
against a baseline measured in the same run: the admin index page (same session, auth and
template machinery, no platform reads).

Run by `make bench` (bin/bench). Uses DATABASE_URL (created if missing) and REDIS_URL; it writes
and afterwards deletes only its own keys (the stats counters, three queues, `bench-*` jobs).
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
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

LIVE_REQUESTS = 60
CHART_COMPUTES = 8
MINUTES = 24 * 60


def measure(client, url: str, n: int, before=None) -> list[float]:
    samples = []
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def main() -> int:
    require_postgresql("bench_console_dashboard")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    call_command("migrate", verbosity=0)

    from queues import stats
    from queues.connection import get_redis, get_rq_queue
    from queues.models import DeadLetter
    from queues.topology import Queue

    redis = get_redis()

    def clean() -> None:
        for pattern in (f"{stats.PREFIX}:*", "rq:job:bench-*"):
            for key in redis.scan_iter(pattern, count=1000):
                redis.delete(key)
        for name in ("webhooks", "reviews-default", "bulk"):
            redis.delete(f"rq:queue:{name}")

    def forget_charts() -> None:
        minute = int(time.time() // 60)
        cache.delete_many([f"console:charts:{minute}", f"console:charts:{minute - 1}"])

    clean()
    now_minute = int(time.time() // 60)
    pipe = redis.pipeline(transaction=False)
    for queue in Queue:
        for minute in range(now_minute - MINUTES + 1, now_minute + 1):
            key = f"{stats.PREFIX}:{queue.queue_name}:{minute}"
            pipe.hset(key, mapping={"jobs": 12, "completed": 11, "failed": 1, "wait_ms": 12 * 800, "d:1": 11})
            pipe.expire(key, stats.RETENTION_SECONDS)
        pipe.execute()
    for name in ("webhooks", "reviews-default", "bulk"):
        rq_queue = get_rq_queue(Queue.from_name(name), redis)
        for i in range(200 // 3):
            rq_queue.enqueue("queues.testing.drain", job_id=f"bench-{name}-{i}")
    DeadLetter.objects.filter(job_id__startswith="bench-").delete()
    DeadLetter.objects.bulk_create(
        DeadLetter(
            job_id=f"bench-{i}",
            job_name="bench.job",
            queue=Queue.by_priority()[i % 14].queue_name,
            error="RuntimeError: bench",
            failed_at=timezone.now(),
        )
        for i in range(100)
    )

    user, _ = get_user_model().objects.get_or_create(
        username="bench-console", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    measure(client, "/admin/operations/", 3)  # warm imports, templates, connections

    baseline = measure(client, "/admin/", LIVE_REQUESTS)
    live = measure(client, "/admin/operations/?part=live", LIVE_REQUESTS)
    charts_computed = measure(client, "/admin/operations/?part=charts", CHART_COMPUTES, before=forget_charts)
    charts_cached = measure(client, "/admin/operations/?part=charts", LIVE_REQUESTS)

    base = p50(baseline)
    print(f"baseline admin index            p50 {base:8.1f} ms  p95 {p95(baseline):8.1f} ms")
    for label, samples in (
        ("live fragment (every 5 s)", live),
        ("charts computed (once a minute)", charts_computed),
        ("charts from cache (every 60 s)", charts_cached),
    ):
        print(
            f"{label:31s} p50 {p50(samples):8.1f} ms  p95 {p95(samples):8.1f} ms"
            f"  ratio to baseline p50 {p50(samples) / base:6.2f}x"
        )
    DeadLetter.objects.filter(job_id__startswith="bench-").delete()
    clean()
    forget_charts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
