from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(autouse=True)
def _no_seat_limit(request: pytest.FixtureRequest, settings: Any) -> None:
    """Role and tenancy tests add members freely; the plan's seat limit is billing's rule, tested
    with it switched on in test_seats.py (marked `seat_limit`)."""
    if request.node.get_closest_marker("seat_limit") is None:
        settings.SENTINEL_SEAT_CHECK = ""
