"""`queues.health.collect_health()` and `manage.py queue_health` (JSON/table output, exit codes)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from rq.utils import utcformat

from queues import keys
from queues.dispatch import dispatch
from queues.health import collect_health
from queues.models import DeadLetter
from queues.testing import drain
from queues.topology import Queue
from tests.queues import jobs
from tests.queues.conftest import ROOT
from tests.queues.conftest import test_database_url as database_url

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE_KEYS = {
    "name",
    "priority",
    "depth",
    "oldest_wait_seconds",
    "sla_seconds",
    "sla_breached",
    "workers",
    "failed",
    "dead_letters",
    "jobs_per_minute",
    "failure_rate",
    "p95_run_seconds",
}


def run_health_json() -> tuple[dict, int]:
    out = io.StringIO()
    code = 0
    try:
        call_command("queue_health", "--format", "json", stdout=out)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return json.loads(out.getvalue()), code


def test_queue_health_json_reports_every_part_and_exits_zero_when_healthy(redis_conn):
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, f"{time.time():.3f}")
    for n in range(3):
        dispatch(jobs.record, workspace_id=None, entity_ids={"n": n}, data={"marker": str(n)}, queue=Queue.BULK)
    dispatch(jobs.leaky, workspace_id=None, entity_ids={"n": 1})
    drain([Queue.DEFAULT])  # one failed job: a dead letter, a failed-registry entry, a failure
    DeadLetter.objects.create(job_id="x", job_name="j", queue="sync", error="e", failed_at="2026-01-01T00:00Z")

    health, code = run_health_json()

    assert code == 0
    assert set(health) == {
        "healthy", "checked_at", "redis", "postgres", "queues", "scheduler", "reconciler", "dead_letters"
    }
    assert health["healthy"] is True
    assert health["redis"]["ok"] is True and health["redis"]["used_memory_bytes"] > 0
    assert health["redis"]["error"] is None
    assert health["postgres"] == {"ok": True, "error": None}
    assert [q["name"] for q in health["queues"]] == [q.queue_name for q in Queue.by_priority()]
    by_name = {q["name"]: q for q in health["queues"]}
    for row in health["queues"]:
        assert set(row) == QUEUE_KEYS
    bulk = by_name["bulk"]
    assert bulk["depth"] == 3 and bulk["priority"] == 100 and bulk["sla_seconds"] == 600
    assert 0 <= bulk["oldest_wait_seconds"] < 600 and bulk["sla_breached"] is False
    default = by_name["default"]
    assert default["depth"] == 0 and default["oldest_wait_seconds"] is None
    assert default["failed"] == 1 and default["dead_letters"] == 1
    assert default["failure_rate"] == 1.0 and default["jobs_per_minute"] > 0
    assert default["p95_run_seconds"] == 0.1
    assert health["dead_letters"] == {"open": 2, "by_queue": {"default": 1, "sync": 1}}
    assert health["scheduler"]["alive"] is True
    assert datetime.fromisoformat(health["scheduler"]["last_seen"]) > datetime.now(UTC) - timedelta(seconds=5)
    assert health["reconciler"] == {"last_run": None}


def test_an_old_waiting_job_breaches_the_sla_and_makes_the_platform_unhealthy(redis_conn):
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, f"{time.time():.3f}")
    job_id = dispatch(jobs.record, workspace_id=None, entity_ids={"n": 1}, data={"marker": "x"}, queue=Queue.WEBHOOKS)
    old = datetime.now(UTC) - timedelta(seconds=40)
    redis_conn.hset(f"rq:job:{job_id}", "enqueued_at", utcformat(old))

    health, code = run_health_json()

    webhooks = next(q for q in health["queues"] if q["name"] == "webhooks")
    assert webhooks["sla_breached"] is True and webhooks["oldest_wait_seconds"] >= 40
    assert health["healthy"] is False and code == 1


def test_a_dead_scheduler_is_reported(redis_conn):
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, f"{time.time() - 120:.3f}")
    health = collect_health()
    assert health["scheduler"]["alive"] is False and health["scheduler"]["last_seen"]
    assert health["healthy"] is False


def test_queue_health_exits_non_zero_with_redis_down(redis_conn, settings):
    """A real process, pointed at a port where no Redis listens; then the table, in-process."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database_url(),
        "REDIS_URL": "redis://127.0.0.1:1/1",
        "SECRET_KEY": "test",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "queue_health", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    health = json.loads(proc.stdout)
    assert health["healthy"] is False
    assert health["redis"]["ok"] is False and "Connection refused" in health["redis"]["error"]
    assert health["postgres"]["ok"] is True

    settings.REDIS_URL = "redis://127.0.0.1:1/1"
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("queue_health", stdout=out)
    assert exited.value.code == 1
    assert "UNHEALTHY" in out.getvalue() and "redis      DOWN" in out.getvalue()


def test_queue_health_table_lists_every_queue(redis_conn):
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, f"{time.time():.3f}")
    out = io.StringIO()
    call_command("queue_health", stdout=out)
    text = out.getvalue()
    assert "HEALTHY" in text
    for queue in Queue:
        assert f"\n{queue.queue_name} " in text


def test_metrics_can_require_a_bearer_token(redis_conn, settings, client):
    settings.SENTINEL_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'sentinel_queue_depth{queue="system"} 0.0' in body
    assert 'sentinel_dead_letters{queue="system"} 0.0' in body
