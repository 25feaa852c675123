"""Declaring a job: `@job(queue=..., retry=..., schema_version=...)` on a function taking an Envelope.

The decorator keeps the function importable under its own dotted path (rq imports jobs by path)
and wraps it in the platform's lifecycle (`queues.lifecycle.run`): logging context, schema check,
throttling, metrics, retry steering. Jobs are queued only through `queues.dispatch.dispatch`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue

# Every declared job by dotted name: the dead-letter replay, the reconciler and the docs use it.
JOB_REGISTRY: dict[str, JobSpec] = {}


@dataclass(frozen=True)
class JobSpec:
    name: str  # dotted path rq imports
    queue: Queue
    retry: RetryPolicy
    schema_version: int
    accepted_versions: frozenset[int]
    timeout: int | None
    job_id_template: str | None
    # Apply the per-workspace concurrency limit (rq RateLimit) when dispatched with a workspace.
    limit_concurrency: bool
    # Apply the per-workspace token bucket before execution (SENTINEL_RATE_LIMITS).
    throttle: bool

    @property
    def effective_timeout(self) -> int:
        return self.timeout or self.queue.default_timeout


class JobFunction(Protocol):
    spec: JobSpec

    def __call__(self, envelope: dict[str, Any]) -> Any: ...


def job(
    *,
    queue: Queue,
    retry: RetryPolicy,
    schema_version: int = 1,
    accepted_versions: tuple[int, ...] | None = None,
    timeout: int | None = None,
    job_id: str | None = None,
    limit_concurrency: bool = True,
    throttle: bool = True,
) -> Callable[[Callable[[Envelope], Any]], JobFunction]:
    """Declare a job once: its queue, retry policy, timeout and payload schema version.

    `job_id` is a template formatted with the entity ids (`"review-run:{review_run_id}"`); by
    default the id is the function name plus the sorted entity ids. `accepted_versions` lists the
    envelope versions the function still understands (default: only `schema_version`).
    """

    def decorate(func: Callable[[Envelope], Any]) -> JobFunction:
        from queues import lifecycle

        spec = JobSpec(
            name=f"{func.__module__}.{func.__qualname__}",
            queue=queue,
            retry=retry,
            schema_version=schema_version,
            accepted_versions=frozenset(accepted_versions or (schema_version,)),
            timeout=timeout,
            job_id_template=job_id,
            limit_concurrency=limit_concurrency,
            throttle=throttle,
        )

        @functools.wraps(func)
        def wrapper(envelope: dict[str, Any]) -> Any:
            return lifecycle.run(spec, func, envelope)

        wrapper.spec = spec  # type: ignore[attr-defined]
        wrapper.original = func  # type: ignore[attr-defined]
        JOB_REGISTRY[spec.name] = spec
        return wrapper  # type: ignore[return-value]

    return decorate


def spec_for(name: str) -> JobSpec:
    """The spec of a job by dotted name, importing its module if nobody has yet."""
    if name not in JOB_REGISTRY:
        from django.utils.module_loading import import_string

        import_string(name)
    return JOB_REGISTRY[name]
