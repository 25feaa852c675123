"""Importable job functions for the rq stack tests (rq imports jobs by dotted path)."""

import redis
from django.conf import settings


def record(marker: str) -> str:
    redis.Redis.from_url(settings.REDIS_URL).rpush("test:ran", marker)
    return marker
