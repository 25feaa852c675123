"""Declared jobs the console tests fail and replay through the real worker code."""

from __future__ import annotations

import redis
from django.conf import settings

from queues.declaration import job
from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue


def r() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@job(queue=Queue.DEFAULT, retry=RetryPolicy.NONE)
def fails_until_fixed(envelope: Envelope) -> str:
    """Fails while the `console:broken` flag is set: the operator 'fixes' it, then replays."""
    conn = r()
    if conn.get("console:broken"):
        raise RuntimeError("upstream is down")
    conn.rpush("console:ran", envelope.data["marker"])
    return envelope.data["marker"]


@job(queue=Queue.WEBHOOKS, retry=RetryPolicy.NONE)
def webhook_fails(envelope: Envelope) -> None:
    raise RuntimeError("bad delivery")
