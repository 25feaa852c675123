"""Liveness and readiness probes.

`/healthz` does no I/O: it only proves the process answers. `/readyz` asks PostgreSQL and Redis
and answers 503 with a JSON body naming what failed, so a load balancer stops routing to an
instance that cannot do its work.
"""

from __future__ import annotations

import redis
import structlog
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = structlog.get_logger(__name__)

PROBE_TIMEOUT_SECONDS = 2


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis(url: str | None = None) -> None:
    client = redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


READINESS_CHECKS = {"database": check_database, "redis": check_redis}


def run_readiness_checks() -> dict[str, str]:
    """Run every readiness check; return {name: "ok" | "error: <reason>"}."""
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure, whatever its type
            results[name] = f"error: {type(exc).__name__}: {exc}"
            logger.warning("readiness.check_failed", check=name, error=str(exc))
        else:
            results[name] = "ok"
    return results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = run_readiness_checks()
    failed = sorted(name for name, result in checks.items() if result != "ok")
    body = {"status": "unavailable" if failed else "ok", "checks": checks, "failed": failed}
    return JsonResponse(body, status=503 if failed else 200)
