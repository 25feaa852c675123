"""Correlation ids: one id follows a piece of work from the HTTP request into every job it causes.

The request middleware binds it; `queues.dispatch` reads `get_correlation_id()` into the job
envelope and the job lifecycle binds it again in the worker. Use `correlation_context()` for work
that starts outside a request (management commands, cron ticks).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

CORRELATION_KEY = "correlation_id"
# Accept the caller's id only when it is a sane token; anything else gets a fresh UUID so a
# header cannot inject newlines or huge values into logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def clean_correlation_id(candidate: str | None) -> str:
    if candidate and _VALID_ID.match(candidate):
        return candidate
    return new_correlation_id()


def get_correlation_id() -> str | None:
    return structlog.contextvars.get_contextvars().get(CORRELATION_KEY)


def bind_correlation_id(correlation_id: str) -> None:
    structlog.contextvars.bind_contextvars(**{CORRELATION_KEY: correlation_id})


@contextmanager
def correlation_context(correlation_id: str | None = None, **extra: object) -> Iterator[str]:
    """Bind a correlation id (and extra context) for the block, restoring the previous context."""
    cid = clean_correlation_id(correlation_id)
    with structlog.contextvars.bound_contextvars(**{CORRELATION_KEY: cid}, **extra):
        yield cid
