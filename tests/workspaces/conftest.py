from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings


@pytest.fixture(autouse=True)
def _clear_throttle_buckets() -> Iterator[None]:
    """Throttle counters live in the Redis cache and outlive a test database; start each test clean.

    Deletes only throttle keys of our own Redis database (never FLUSHALL)."""
    conn = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(conn.scan_iter(match="*throttle:*", count=500))
    if keys:
        conn.delete(*keys)
    yield
    conn.close()
