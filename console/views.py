"""The operations dashboard: an admin page over the health command's data plus 24-hour charts.

The numbers come from `queues.health.collect_health()` — the same function behind
`manage.py health` and the health probes — so the console never disagrees with them. The charts
come from the per-minute counters of `queues.stats`. The page refreshes its live table every few
seconds and its charts every minute by fetching fragments of itself (`?part=live|charts`).
Staff-only: every view here is wrapped in `admin.site.admin_view` (console/urls.py).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from redis import Redis
from redis.exceptions import RedisError

from console.charts import BUCKET_MINUTES_DEFAULT, bucket_series, line_chart
from queues import stats
from queues.connection import get_redis
from sentinel.admin_actions import admin_change_url, admin_changelist_url

CHART_HOURS = 24
LIVE_REFRESH_SECONDS = 5
CHARTS_REFRESH_SECONDS = 60
TRACE_LISTED = 20


def _rq_links() -> dict[str, int]:
    """Queue name → django-rq's queue index (its URLs address queues by position in RQ_QUEUES)."""
    from django_rq.settings import get_queues_map

    return get_queues_map()


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def live_context(connection: Redis | None = None) -> dict[str, Any]:
    """The health snapshot, with what the template needs to link and highlight each queue."""
    from queues.health import collect_health
    from queues.models import DeadLetter

    health = collect_health(connection=connection)
    rq_index = _rq_links()
    queues = []
    for row in sorted(health.get("queues", []), key=lambda q: q.get("priority", 0)):
        name = row["name"]
        index = rq_index.get(name)
        queues.append(
            {
                **row,
                "failure_rate_percent": (row.get("failure_rate") or 0) * 100,
                # Work waits and nobody listens: as urgent as a breach.
                "unserved": bool(row.get("depth")) and not row.get("workers"),
                "rq_url": _url("django_rq:jobs", index) if index is not None else "",
                "rq_failed_url": _url("django_rq:failed_jobs", index) if index is not None else "",
                "dead_letters_url": admin_changelist_url(DeadLetter, queue=name, status="pending"),
            }
        )
    dead = health.get("dead_letters") or {}
    return {
        "health": health,
        "queues": queues,
        "breached": [q["name"] for q in queues if q.get("sla_breached")],
        "dead_letters_by_queue": sorted((dead.get("by_queue") or {}).items(), key=lambda kv: (-kv[1], kv[0])),
        "dead_letters_url": admin_changelist_url(DeadLetter, status="pending"),
        "live_refresh_seconds": LIVE_REFRESH_SECONDS,
    }


def charts_context(connection: Redis | None = None) -> dict[str, Any]:
    """Per queue (priority order): throughput and average wait over the last 24 hours, as SVG."""
    from queues.topology import Queue

    connection = connection or get_redis()
    charts = []
    idle = []
    for queue in Queue.by_priority():
        rows = stats.series(connection, queue.queue_name, minutes=CHART_HOURS * 60)
        buckets = bucket_series(rows, BUCKET_MINUTES_DEFAULT)
        first = buckets[0]["minute"] if buckets else 0
        total = sum(b["jobs"] for b in buckets)
        if not total:
            idle.append(queue.queue_name)  # 28 flat lines say less than one list of names
            continue
        throughput = [b["jobs_per_minute"] for b in buckets]
        waits = [None if b["avg_wait_ms"] is None else b["avg_wait_ms"] / 1000 for b in buckets]
        charts.append(
            {
                "name": queue.queue_name,
                "jobs_24h": total,
                "failed_24h": sum(b["failed"] for b in buckets),
                "throughput_svg": line_chart(
                    throughput,
                    first_minute=first,
                    unit="/min",
                    label=f"{queue.queue_name}: jobs per minute, 24 h",
                ),
                "wait_svg": line_chart(
                    waits,
                    first_minute=first,
                    unit="s",
                    label=f"{queue.queue_name}: average wait, 24 h (dashed: SLA)",
                    threshold=float(queue.sla_wait_seconds),
                ),
            }
        )
    return {
        "charts": charts,
        "idle_queues": idle,
        "bucket_minutes": BUCKET_MINUTES_DEFAULT,
        "chart_hours": CHART_HOURS,
    }


EMPTY_CHARTS: dict[str, Any] = {
    "charts": [],
    "idle_queues": [],
    "bucket_minutes": BUCKET_MINUTES_DEFAULT,
    "chart_hours": CHART_HOURS,
}


def cached_charts_context() -> dict[str, Any]:
    """charts_context(), computed at most once a minute for everyone: the counters are per minute
    and one computation reads 14 queues x 1,440 hashes (about a second on a busy machine)."""
    key = f"console:charts:{int(time.time() // 60)}"
    try:
        context = cache.get(key)
        if context is None:
            context = charts_context()
            cache.set(key, context, timeout=90)
    except RedisError as exc:
        # Redis down: the live table (collect_health) says so; the charts just step aside.
        return {**EMPTY_CHARTS, "charts_error": f"{type(exc).__name__}: {exc}"}
    return context


def operations_dashboard(request: HttpRequest) -> HttpResponse:
    """`/admin/operations/`: the whole page; `?part=live` / `?part=charts`: the refreshable fragments."""
    part = request.GET.get("part")
    if part == "live":
        return TemplateResponse(request, "admin/console/_dashboard_live.html", live_context())
    if part == "charts":
        return TemplateResponse(request, "admin/console/_dashboard_charts.html", cached_charts_context())
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        **live_context(),
        **cached_charts_context(),
        "charts_refresh_seconds": CHARTS_REFRESH_SECONDS,
        "rq_home_url": _url("django_rq:home"),
        "audit_log_url": _url("admin:admin_logentry_changelist"),
        "debug": settings.DEBUG,
    }
    return TemplateResponse(request, "admin/console/dashboard.html", context)


def _correlated_models() -> list[tuple[type, admin.ModelAdmin]]:
    """Every admin-registered model with a `correlation_id` column, in a stable order."""
    found = []
    for model, model_admin in admin.site._registry.items():
        if any(f.name == "correlation_id" for f in model._meta.fields):
            found.append((model, model_admin))
    return sorted(found, key=lambda pair: pair[0]._meta.label)


def trace(request: HttpRequest) -> HttpResponse:
    """`/admin/operations/trace/?q=<correlation id>`: everything the console knows under one id.

    The same id is in every log line of the request and of the jobs it caused (sentinel.correlation),
    so this page plus a log search on `correlation_id` tells the whole story of one piece of work.
    """
    query = (request.GET.get("q") or "").strip()[:128]
    groups = []
    if query:
        for model, model_admin in _correlated_models():
            if not model_admin.has_view_or_change_permission(request):
                continue
            opts = model._meta
            matches = model._default_manager.filter(correlation_id=query)
            count = matches.count()
            if not count:
                continue
            searchable = any(f.lstrip("=^@") == "correlation_id" for f in model_admin.search_fields or ())
            groups.append(
                {
                    "title": opts.verbose_name_plural,
                    "count": count,
                    "objects": [
                        (obj, admin_change_url(obj)) for obj in matches.order_by("-pk")[:TRACE_LISTED]
                    ],
                    "changelist_url": admin_changelist_url(model, q=query) if searchable else "",
                }
            )
    context = {
        **admin.site.each_context(request),
        "title": "Trace a correlation id",
        "query": query,
        "groups": groups,
        "listed": TRACE_LISTED,
    }
    return TemplateResponse(request, "admin/console/trace.html", context)


def trace_url(correlation_id: str) -> str:
    """The trace page of one correlation id (for links from any admin)."""
    return f"{reverse('operations-trace')}?{urlencode({'q': correlation_id})}"
