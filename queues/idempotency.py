"""Do a side effect once, however often a job runs.

    from queues.idempotency import idempotent

    with idempotent(f"usage:record:{run_id}") as first:
        if first:
            UsageRecord.objects.create(...)      # same transaction as the key

The key row and the side effect's rows commit together or not at all: if the block raises, both
roll back and a retry does the work again. Two workers racing on one key: PostgreSQL's unique index
makes the second wait for the first's transaction, then see the key (first=False).
For an external call that cannot join the transaction (posting to GitHub), record intent first and
look for the effect before repeating it (docs/queues.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from queues.models import IdempotencyKey

T = TypeVar("T")


@contextmanager
def idempotent(key: str) -> Iterator[bool]:
    """Open a transaction holding `key`; yield True if this is the first time the key is seen."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(key=key)
            first = True
        except IntegrityError:
            first = False
        yield first


def run_once(key: str, func: Callable[[], T]) -> tuple[bool, Any]:
    """Call `func` inside the key's transaction unless the key exists.

    Returns (ran, result): the fresh result, or the stored one (JSON) when it had already run.
    """
    with idempotent(key) as first:
        if not first:
            return False, IdempotencyKey.objects.get(key=key).result
        result = func()
        IdempotencyKey.objects.filter(key=key).update(result=result)
        return True, result


def job_key(envelope_job_id: str, step: str) -> str:
    """A key scoped to a job and one of its steps (stable across retries and replays)."""
    return f"{envelope_job_id}:{step}"
