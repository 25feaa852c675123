"""The operations dashboard shows the health command's numbers for a known queue state in real Redis."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from queues import keys
from queues.dispatch import dispatch
from queues.health import collect_health
from queues.testing import drain
from queues.topology import Queue
from tests.console import jobs

pytestmark = pytest.mark.django_db

URL = "/admin/operations/"


def rq_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def known_state(redis_conn, make_dead_letters):
    """default: 3 jobs ran (1 failed for good); webhooks: 2 waiting, the oldest for 2 minutes (SLA 15 s)."""
    redis_conn.rpush("console:ran", "x")
    make_dead_letters(1)  # one failure on `default`, recorded in the stats and as a dead letter
    redis_conn.delete("console:broken")
    for n in (101, 102):
        dispatch(jobs.fails_until_fixed, workspace_id=None, entity_ids={"n": n}, data={"marker": f"ok{n}"})
    drain([Queue.DEFAULT])
    waiting = [
        dispatch(jobs.webhook_fails, workspace_id=None, entity_ids={"n": n}, data={}) for n in (201, 202)
    ]
    # The first webhook job has waited two minutes: rewrite its enqueue time (rq's own field).
    redis_conn.hset(f"rq:job:{waiting[0]}", "enqueued_at", rq_time(datetime.now(UTC) - timedelta(minutes=2)))
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, time.time())
    redis_conn.set(keys.RECONCILER_LAST_RUN, json.dumps({"at": datetime.now(UTC).isoformat()}))
    return waiting


def row_html(body: str, queue: str) -> str:
    match = re.search(rf'<tr id="queue-{queue}"(.*?)</tr>', body, re.S)
    assert match, queue
    return match.group(0)


def cell(row: str, css: str) -> str:
    match = re.search(rf'<td class="{css}">(.*?)</td>', row, re.S)
    assert match, css
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.mark.django_db(transaction=True)  # real jobs run through the worker code
def test_dashboard_numbers_match_the_known_queue_state(client, superuser, known_state):
    client.force_login(superuser)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()

    webhooks = row_html(body, "webhooks")
    assert 'class="sla-breached"' in webhooks and "SLA breached" in webhooks
    assert cell(webhooks, "depth") == "2"
    assert cell(webhooks, "wait").startswith("2 m")
    assert cell(webhooks, "workers") == "0"

    default = row_html(body, "default")
    assert "sla-breached" not in default.split(">")[0]
    assert cell(default, "depth") == "0"
    assert cell(default, "jpm") == "0.05"  # 3 jobs in the last hour
    assert cell(default, "failure-rate") == "33.3%"  # 1 of 3
    assert cell(default, "dead-letters") == "1"

    assert re.search(r'id="ops-breaches">1<', body)
    assert re.search(r'id="ops-dead-letters"><a [^>]*>1</a>', body)
    assert "alive" in re.search(r'id="ops-scheduler">(.*?)</strong>', body, re.S).group(1)
    # The queues appear in priority order.
    order = re.findall(r'<tr id="queue-([a-z-]+)"', body)
    assert order == [q.queue_name for q in Queue.by_priority()]
    # The page and the health command read the same function.
    health = collect_health()
    by_name = {q["name"]: q for q in health["queues"]}
    assert by_name["webhooks"]["depth"] == 2 and by_name["webhooks"]["sla_breached"]
    assert by_name["default"]["jobs_per_minute"] == 0.05

    # 24-hour charts from the per-minute counters: queues with jobs get two, idle ones are named.
    charts = client.get(URL, {"part": "charts"}).content.decode()
    assert charts.count("<svg") == 2
    assert "3 jobs, 1 failed" in re.search(r'id="chart-default">(.*?)</div>', charts, re.S).group(1)
    assert 'aria-label="default: jobs per minute, 24 h"' in charts
    idle = re.search(r'id="ops-idle-queues">No jobs in the last 24 hours: (.*?)</p>', charts, re.S).group(1)
    assert "webhooks" in idle.split(", ") and "default" not in idle.split(", ")
    assert "http://" not in charts.replace("http://www.w3.org/2000/svg", "")  # nothing loaded from elsewhere

    # The live fragment the page refetches every few seconds: the table without the page chrome.
    live = client.get(URL, {"part": "live"})
    assert 'id="ops-queues"' in live.content.decode() and "<html" not in live.content.decode()
    assert "no-cache" in live.get("Cache-Control", "")


def test_console_pages_are_staff_only(client, member, staff_operator):
    urls = [URL, URL + "?part=live", URL + "?part=charts", "/admin/rq/", reverse("admin:index")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    client.force_login(member)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    client.force_login(staff_operator)
    assert client.get(URL).status_code == 200
    assert client.get("/admin/rq/").status_code == 200


def test_admin_index_links_the_dashboard_and_django_rq(client, superuser):
    client.force_login(superuser)
    body = client.get(reverse("admin:index")).content.decode()
    assert 'href="/admin/operations/"' in body
    assert 'href="/admin/rq/"' in body


def test_dashboard_still_answers_when_redis_is_down(client, superuser, settings, monkeypatch):
    from redis import Redis

    import console.views

    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    monkeypatch.setattr(console.views, "get_redis", lambda: Redis.from_url(dead, socket_connect_timeout=1))
    client.force_login(superuser)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "unhealthy" in body and "Charts unavailable" in body
    assert re.search(r"Redis\s*<strong><span class=\"badge badge-bad\">down</span>", body)
