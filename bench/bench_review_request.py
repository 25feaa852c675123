"""request_review(): the price of idempotent creation + supersede + dispatch, against a bare INSERT.

For BENCH_REVIEW_REQUESTS pull-request pushes (default 300) it times, per call:

- request:   `reviews.services.request_review(...)` for a new head SHA of a PR (idempotency
             lookup, INSERT, supersede of the PR's previous queued run, run_created, dispatch of
             ExecuteReviewRun to Redis with the workspace's concurrency limit);
- repeat:    the same call again for that head (a redelivered webhook: lookup, no write);
- baseline:  `ReviewRun.objects.create(...)` of an equivalent row (no checks, no queueing).

Prints medians (ms) and the ratios to the baseline. Needs PostgreSQL and Redis
(BENCH_DATABASE_URL / BENCH_REDIS_URL through bin/bench); the Redis database is flushed.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.database import require_postgresql  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ["SENTINEL_REVIEW_DEBOUNCE_SECONDS"] = "0"

N = int(os.environ.get("BENCH_REVIEW_REQUESTS", "300"))


def main() -> None:
    require_postgresql("bench_review_request")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from integrations.models import Repository, SourceProvider
    from queues.connection import get_redis
    from reviews import services
    from reviews.models import ReviewRun, Trigger
    from workspaces import services as workspace_services

    get_redis().flushdb()
    suffix = secrets.token_hex(3)
    owner = get_user_model().objects.create_user(username=f"bench-{suffix}", password=None)
    workspace = workspace_services.workspace_create(name=f"bench-reviews-{suffix}", owner=owner, plan="free")
    repository = Repository.objects.create(
        workspace=workspace, provider=SourceProvider.LOCAL_GIT, full_name=f"bench/{suffix}", local_path="/nonexistent"
    )
    base = "0" * 40

    request_ms, repeat_ms, baseline_ms = [], [], []
    for _ in range(N):
        head = secrets.token_hex(20)
        start = time.perf_counter()
        services.request_review(
            repository=repository, pr_number=1, base_sha=base, head_sha=head, trigger=Trigger.WEBHOOK
        )
        request_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        services.request_review(
            repository=repository, pr_number=1, base_sha=base, head_sha=head, trigger=Trigger.WEBHOOK
        )
        repeat_ms.append((time.perf_counter() - start) * 1000)
        other = secrets.token_hex(20)
        start = time.perf_counter()
        ReviewRun.objects.create(
            workspace=workspace, repository=repository, pr_number=2, base_sha=base, head_sha=other,
            trigger=Trigger.WEBHOOK, idempotency_key=f"bench:{other}",
        )
        baseline_ms.append((time.perf_counter() - start) * 1000)

    request, repeat, baseline = (statistics.median(x) for x in (request_ms, repeat_ms, baseline_ms))
    print(f"review requests: {N}")
    print(f"  baseline (bare INSERT)          median {baseline:7.2f} ms")
    print(f"  request_review (new head)       median {request:7.2f} ms   ratio {request / baseline:5.1f}x baseline")
    print(f"  request_review (repeat, no-op)  median {repeat:7.2f} ms   ratio {repeat / baseline:5.1f}x baseline")
    get_redis().flushdb()


if __name__ == "__main__":
    main()
