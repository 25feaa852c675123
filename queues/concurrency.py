"""Per-workspace concurrency (rq RateLimit) and the per-workspace token bucket.

Concurrency: at most N jobs of one workspace are queued-or-running on a queue at once; the rest
wait in rq's rate-limit registry and are promoted, oldest first, as slots free. This is what keeps
a flood from one workspace from holding a queue (docs/decisions.md). N comes from the callable
named by `SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER` (billing points it at plan limits).

Token bucket: `SENTINEL_RATE_LIMITS = {"queue-name": (per_minute, burst)}` is applied when a job
starts; a job without a token is re-scheduled for when one will be available (not failed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string
from redis import Redis

from queues.topology import Queue

ConcurrencyResolver = Callable[..., "int | None"]


def default_concurrency_resolver(*, workspace_id: int, queue: Queue) -> int | None:
    """Settings-only resolver: a per-queue override, else the default (None/0 = unlimited)."""
    per_queue = getattr(settings, "SENTINEL_WORKSPACE_CONCURRENCY_PER_QUEUE", {}) or {}
    limit = per_queue.get(queue.queue_name, getattr(settings, "SENTINEL_WORKSPACE_CONCURRENCY", 4))
    return int(limit) if limit else None


def resolve_concurrency(*, workspace_id: int, queue: Queue) -> int | None:
    path = getattr(
        settings,
        "SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER",
        "queues.concurrency.default_concurrency_resolver",
    )
    resolver: ConcurrencyResolver = import_string(path)
    limit = resolver(workspace_id=workspace_id, queue=queue)
    return int(limit) if limit else None


def concurrency_key(*, workspace_id: int, queue: Queue) -> str:
    return f"workspace:{workspace_id}:{queue.queue_name}"


# KEYS[1] bucket hash; ARGV: capacity, refill per second, now (float seconds).
# Returns {1, 0} when a token was taken, {0, wait_ms} otherwise.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {allowed, wait_ms}
"""


def rate_limit_for(queue: Queue) -> tuple[float, int] | None:
    """(tokens per minute, burst) for a queue, or None when it is not throttled."""
    limits = getattr(settings, "SENTINEL_RATE_LIMITS", {}) or {}
    value = limits.get(queue.queue_name)
    if not value:
        return None
    per_minute, burst = value
    return float(per_minute), int(burst)


def take_token(connection: Redis, *, workspace_id: int, queue: Queue) -> float:
    """Take a token for this workspace on this queue. Returns 0 when allowed, else seconds to wait."""
    limit = rate_limit_for(queue)
    if limit is None:
        return 0.0
    per_minute, burst = limit
    script = connection.register_script(_BUCKET_SCRIPT)
    allowed, wait_ms = script(
        keys=[f"sentinel:tb:{queue.queue_name}:{workspace_id}"],
        args=[burst, per_minute / 60.0, f"{time.time():.6f}"],
    )
    return 0.0 if int(allowed) else max(1.0, math.ceil(int(wait_ms) / 1000))
