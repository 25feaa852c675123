"""Shared fixtures. Tests run against the real PostgreSQL and Redis (see bin/test)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from sentinel.logging import OWN_HANDLER_LOGGERS, json_formatter


def clear_throttle_buckets() -> None:
    """Delete the API throttle counters (they live in the Redis cache and outlive a test database).

    Only throttle keys of the tests' own Redis database, never FLUSHALL."""
    conn = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(conn.scan_iter(match="*throttle:*", count=500))
    if keys:
        conn.delete(*keys)
    conn.close()


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    """The tests' own Redis database, emptied before and after the test."""
    conn = redis.Redis.from_url(settings.REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


def parse_log_lines(text: str) -> list[dict]:
    """The JSON objects among captured output lines (other lines are ignored)."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


@pytest.fixture
def log_records():
    """Call to get the JSON log lines written so far, formatted exactly as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in OWN_HANDLER_LOGGERS)]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: parse_log_lines(stream.getvalue())
    for logger in loggers:
        logger.removeHandler(handler)
