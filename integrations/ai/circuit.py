"""A circuit breaker per (workspace, provider), in Redis so every worker shares it.

`SENTINEL_AI_BREAKER_THRESHOLD` consecutive failures (overload, 5xx, timeouts, auth) open the
breaker for `SENTINEL_AI_BREAKER_COOLDOWN` seconds: the provider is left out of routing (the
next eligible one is used) instead of being hammered while it is down. A success closes it.
The failure counter expires after the cooldown too, so failures spread over hours never add up.
Rate limits do not count: they are the provider asking us to wait, and the job platform does.
"""

from __future__ import annotations

from django.conf import settings

from queues.connection import get_redis

PREFIX = "sentinel:ai:breaker"


def _keys(workspace_id: int, provider: str) -> tuple[str, str]:
    base = f"{PREFIX}:{workspace_id}:{provider}"
    return f"{base}:failures", f"{base}:open"


def threshold() -> int:
    return int(getattr(settings, "SENTINEL_AI_BREAKER_THRESHOLD", 3))


def cooldown_seconds() -> int:
    return int(getattr(settings, "SENTINEL_AI_BREAKER_COOLDOWN", 300))


def is_open(workspace_id: int, provider: str) -> bool:
    _, open_key = _keys(workspace_id, provider)
    return bool(get_redis().exists(open_key))


def open_for(workspace_id: int, provider: str) -> int:
    """Seconds left in the cooldown (0 when closed)."""
    _, open_key = _keys(workspace_id, provider)
    ttl = get_redis().ttl(open_key)
    return max(0, int(ttl or 0))


def record_failure(workspace_id: int, provider: str) -> bool:
    """Count one failure; returns True when this failure opened the breaker."""
    failures_key, open_key = _keys(workspace_id, provider)
    connection = get_redis()
    pipe = connection.pipeline()
    pipe.incr(failures_key)
    pipe.expire(failures_key, cooldown_seconds())
    count, _ = pipe.execute()
    if int(count) >= threshold():
        opened = connection.set(open_key, "1", ex=cooldown_seconds(), nx=True)
        connection.delete(failures_key)
        return bool(opened)
    return False


def record_success(workspace_id: int, provider: str) -> None:
    failures_key, open_key = _keys(workspace_id, provider)
    get_redis().delete(failures_key, open_key)


def reset(workspace_id: int, provider: str) -> None:
    record_success(workspace_id, provider)
