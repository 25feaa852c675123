"""`dispatch()`: the one way to queue a job.

It builds the envelope, picks the deterministic job id, and queues after the surrounding
transaction commits (`transaction.on_commit`; outside a transaction, at once). A duplicate (a job
with that id still known to Redis: queued, scheduled, running, or finished within its retention)
is a no-op. See docs/queues.md for an example.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import structlog
from django.db import transaction
from redis import Redis
from rq import RateLimit
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus

from queues import concurrency
from queues.connection import SentinelJob, get_redis, get_rq_queue
from queues.declaration import JobFunction, JobSpec
from queues.envelope import Envelope
from queues.topology import Queue
from sentinel.correlation import get_correlation_id, new_correlation_id

log = structlog.get_logger("queues.dispatch")

# Atomically reserve a job id for a rate-limited enqueue (rq refuses unique=True together with a
# RateLimit, so uniqueness is ours there): 1 = reserved, 0 = a job with this id exists.
# The reservation expires, so a process dying between claim and enqueue cannot block the id (and
# the reconciler) forever; the enqueued job's hash is made persistent right after.
CLAIM_TTL = 60
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'dispatching')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


_INVALID_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def build_job_id(spec: JobSpec, entity_ids: dict[str, Any]) -> str:
    """The deterministic job id: the declared template, or `<module>-<function>-<key>-<value>...`.

    rq 3 accepts only letters, digits, `_` and `-` in ids, so anything else becomes `-`.
    """
    if spec.job_id_template:
        raw = spec.job_id_template.format(**entity_ids)
    else:
        module, func = spec.name.rsplit(".", 2)[-2:]
        parts = [module, func] + [f"{k}-{entity_ids[k]}" for k in sorted(entity_ids)]
        raw = "-".join(parts)
    return _INVALID_ID_CHARS.sub("-", raw)


def dispatch(
    job_func: JobFunction,
    *,
    workspace_id: int | None,
    entity_ids: dict[str, Any],
    data: dict[str, Any] | None = None,
    job_id: str | None = None,
    queue: Queue | None = None,
    delay: timedelta | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int | None = None,
    correlation_id: str | None = None,
    unique: bool = True,
) -> str:
    """Queue `job_func` after the current transaction commits; return its (deterministic) job id.

    - `queue` overrides the declared queue (e.g. the workspace's review tier queue).
    - `delay` schedules the job instead of queueing it now (rq's scheduler in the workers).
    - Concurrency: with a workspace, the job joins the workspace's concurrency group on its queue
      (limit from SENTINEL_WORKSPACE_CONCURRENCY_RESOLVER); `concurrency_key`/`concurrency_limit`
      override the group and the limit.
    - `unique=False` skips the duplicate check, for a caller that has just created the entity the
      job id derives from (so no job with that id can exist yet) and whose job is idempotent anyway;
      the job is then queued in one Redis round trip instead of two (the webhook intake's hot path).
      Ignored with `delay` or a concurrency limit, which keep their own checks.
    """
    spec: JobSpec = job_func.spec
    target = queue or spec.queue
    jid = job_id or build_job_id(spec, entity_ids)
    envelope = Envelope(
        schema_version=spec.schema_version,
        workspace_id=workspace_id,
        correlation_id=correlation_id or get_correlation_id() or new_correlation_id(),
        entity_ids=dict(entity_ids),
        data=dict(data or {}),
        job_id=jid,
    )
    limit = concurrency_limit
    key = concurrency_key
    if key is None and workspace_id is not None and spec.limit_concurrency:
        key = concurrency.concurrency_key(workspace_id=workspace_id, queue=target)
    if key is not None and limit is None and workspace_id is not None:
        limit = concurrency.resolve_concurrency(workspace_id=workspace_id, queue=target)
    rate_limit = RateLimit(key, limit) if key and limit and delay is None else None

    transaction.on_commit(
        lambda: enqueue_envelope(spec, envelope, queue=target, delay=delay, rate_limit=rate_limit, unique=unique)
    )
    return jid


def enqueue_envelope(
    spec: JobSpec,
    envelope: Envelope,
    *,
    queue: Queue,
    delay: timedelta | None = None,
    rate_limit: RateLimit | None = None,
    connection: Redis | None = None,
    result_ttl: int | None = None,
    unique: bool = True,
) -> bool:
    """Put the job into Redis now. Returns False when it was a duplicate (nothing queued).

    `result_ttl` overrides the queue's retention for the result (schedule ticks keep theirs short).
    """
    connection = connection or get_redis()
    rq_queue = get_rq_queue(queue, connection)
    retention = queue.retention
    options: dict[str, Any] = {
        "job_id": envelope.job_id,
        "timeout": spec.effective_timeout,
        "result_ttl": retention.result_ttl if result_ttl is None else result_ttl,
        "failure_ttl": retention.failure_ttl,
        "retry": spec.retry.to_rq(),
        "description": f"{spec.name}({envelope.job_id})",
        "meta": {"job_name": spec.name, "workspace_id": envelope.workspace_id},
    }
    args = (envelope.to_dict(),)
    bound = log.bind(job_id=envelope.job_id, queue=queue.queue_name, job_name=spec.name)
    try:
        if delay is not None:
            rq_queue.enqueue_in(delay, spec.name, args=args, unique=True, **options)
        elif rate_limit is not None:
            claim = connection.register_script(_CLAIM)
            job_key = SentinelJob.key_for(envelope.job_id)
            if not int(claim(keys=[job_key], args=[CLAIM_TTL])):
                raise DuplicateJobError(envelope.job_id)
            try:
                rq_queue.enqueue(spec.name, args=args, rate_limit=rate_limit, **options)
            except Exception:
                connection.delete(job_key)
                raise
            connection.persist(job_key)  # rq's save keeps the claim's expiry otherwise
        elif unique:
            rq_queue.enqueue(spec.name, args=args, unique=True, **options)
        else:
            # rq's unique enqueue is a Lua script after a separate SADD round trip; handing rq a
            # pipeline puts SADD, the job hash and the queue push into one MULTI/EXEC instead.
            with connection.pipeline() as pipe:
                rq_queue.enqueue(spec.name, args=args, pipeline=pipe, **options)
                pipe.execute()
    except DuplicateJobError:
        bound.info("job.duplicate")
        return False
    bound.info("job.dispatched", delay_s=delay.total_seconds() if delay else None, rate_limited=bool(rate_limit))
    return True


PENDING_STATUSES = frozenset(s.value for s in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED))


def job_pending(job_func: JobFunction, *, entity_ids: dict[str, Any], connection: Redis | None = None) -> bool:
    """Whether the job `dispatch(job_func, entity_ids=...)` queued is still to run or running.

    False once it finished, failed or Redis no longer knows it: callers use it to wait for work
    that is on its way, never as a lock.
    """
    job_id = build_job_id(job_func.spec, entity_ids)
    status = (connection or get_redis()).hget(SentinelJob.key_for(job_id), "status")
    return status is not None and status.decode() in PENDING_STATUSES
