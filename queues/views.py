"""`/metrics`: Prometheus exposition of every process's samples plus live queue gauges.

The job counters and histograms come from the multiprocess directory (PROMETHEUS_MULTIPROC_DIR)
that web and worker processes write to. `sentinel_queue_depth{queue}` and
`sentinel_dead_letters{queue}` (pending) are read from Redis and PostgreSQL at scrape time.
When `SENTINEL_METRICS_TOKEN` is set, the scraper must send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import structlog
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from queues.health import QUEUE_KEY, health_connection
from queues.topology import Queue

log = structlog.get_logger("queues.metrics")


class LiveQueueCollector(Collector):
    """Gauges read at scrape time; a source that cannot be read is left out, never an error."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        names = [q.queue_name for q in Queue.by_priority()]
        try:
            connection = health_connection()
            pipe = connection.pipeline(transaction=False)
            for name in names:
                pipe.llen(QUEUE_KEY.format(name))
            depths = pipe.execute()
        except Exception:  # noqa: BLE001
            log.warning("metrics.redis_unavailable", exc_info=True)
        else:
            depth = GaugeMetricFamily("sentinel_queue_depth", "Jobs waiting in the queue.", labels=["queue"])
            for name, value in zip(names, depths, strict=True):
                depth.add_metric([name], int(value))
            yield depth
        try:
            from queues.models import DeadLetter

            rows = (
                DeadLetter.objects.filter(status=DeadLetter.Status.PENDING)
                .values("queue")
                .annotate(n=Count("id"))
                .order_by()
            )
            counts = {row["queue"]: row["n"] for row in rows}
        except Exception:  # noqa: BLE001
            log.warning("metrics.database_unavailable", exc_info=True)
        else:
            dead = GaugeMetricFamily("sentinel_dead_letters", "Dead letters not yet replayed or discarded.", labels=["queue"])
            for name in names:
                dead.add_metric([name], counts.get(name, 0))
            yield dead


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "SENTINEL_METRICS_TOKEN", "")
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(LiveQueueCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
