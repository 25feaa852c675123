"""Dead letters: recording a job's final failure, replaying and discarding (services).

`record_dead_letter` is called by the worker (queues.worker) for the last failure of a job,
whatever the cause: an exception, a timeout, a killed work-horse, an abandoned job. Stopped and
cancelled jobs never get here. The admin console and `manage.py replay_dead_letters` call
`replay_dead_letter` / `discard_dead_letter`.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from queues.connection import SentinelJob, get_redis
from queues.declaration import spec_for
from queues.dispatch import enqueue_envelope
from queues.envelope import Envelope
from queues.models import DeadLetter, DeadLetterEvent
from queues.signals import job_permanently_failed
from queues.topology import Queue
from sentinel.logging import mask_value

log = structlog.get_logger("queues.deadletters")


def _envelope_of(job: Job) -> dict[str, Any]:
    try:
        args = job.args
    except Exception:  # noqa: BLE001 - an undecodable payload still deserves a dead letter
        return {}
    if args and isinstance(args[0], dict):
        return dict(args[0])
    return {}


def record_dead_letter(*, job: Job, error: str, traceback: str = "") -> DeadLetter:
    """Store the job's final failure (payload masked) and fire job_permanently_failed after commit."""
    envelope = _envelope_of(job)
    attempts = getattr(job, "_attempt", None)
    if attempts is None:
        from queues.lifecycle import attempt_number

        attempts = attempt_number(job)
    try:
        job_name = job.func_name or ""
    except Exception:  # noqa: BLE001
        job_name = ""
    with transaction.atomic():
        dead_letter = DeadLetter.objects.create(
            job_id=job.id,
            job_name=job_name or "<unknown>",
            queue=job.origin or "",
            payload=mask_value(envelope),
            workspace_id=envelope.get("workspace_id"),
            correlation_id=envelope.get("correlation_id") or "",
            error=error[:10000],
            traceback=mask_value(traceback)[:50000] if isinstance(traceback, str) else "",
            attempts=attempts,
            enqueued_at=job.enqueued_at,
            failed_at=timezone.now(),
        )
        transaction.on_commit(lambda: job_permanently_failed.send(sender=DeadLetter, dead_letter=dead_letter))
    log.error(
        "job.dead_lettered",
        dead_letter_id=dead_letter.pk,
        job_id=job.id,
        job_name=dead_letter.job_name,
        queue=dead_letter.queue,
        workspace_id=dead_letter.workspace_id,
        correlation_id=dead_letter.correlation_id,
        attempts=attempts,
        error=dead_letter.error[:500],
    )
    return dead_letter


def _original_envelope(dead_letter: DeadLetter, connection: Redis) -> dict[str, Any]:
    """The unmasked envelope from Redis while rq still keeps the failed job, else the stored one."""
    try:
        job = SentinelJob.fetch(dead_letter.job_id, connection=connection)
    except NoSuchJobError:
        return dict(dead_letter.payload)
    envelope = _envelope_of(job)
    return envelope or dict(dead_letter.payload)


def replay_dead_letter(*, dead_letter: DeadLetter, actor: str, note: str = "") -> str:
    """Queue the job again with its current declaration (queue, retry, timeout) and the same job id.

    The old rq job (kept in the failed registry) is deleted first so the deterministic id is free;
    the idempotency keys a job uses are derived from that id, so side effects stay single.
    """
    connection = get_redis()
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        # Only a pending letter replays: under the row lock, a second operator confirming the same
        # replay (or a replay after a discard) is refused instead of queueing the job twice. A
        # replayed job that fails again becomes a new pending letter of its own.
        if locked.status != DeadLetter.Status.PENDING:
            raise ValueError(f"dead letter {locked.pk} was already {locked.status}")
        spec = spec_for(locked.job_name)
        envelope = Envelope.from_dict({**_original_envelope(locked, connection), "job_id": locked.job_id})
        try:
            queue = Queue.from_name(locked.queue)
        except ValueError:
            queue = spec.queue
        locked.status = DeadLetter.Status.REPLAYED
        locked.replay_count += 1
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "replay_count", "resolved_at"])
        DeadLetterEvent.objects.create(
            dead_letter=locked, action=DeadLetterEvent.Action.REPLAYED, actor=actor, note=note
        )

        def requeue() -> None:
            try:
                SentinelJob.fetch(locked.job_id, connection=connection).delete()
            except NoSuchJobError:
                pass
            enqueue_envelope(spec, envelope, queue=queue, connection=connection)

        transaction.on_commit(requeue)
    log.info("dead_letter.replayed", dead_letter_id=locked.pk, job_id=locked.job_id, actor=actor)
    dead_letter.refresh_from_db()
    return locked.job_id


def discard_dead_letter(*, dead_letter: DeadLetter, actor: str, reason: str = "") -> DeadLetter:
    """Mark a dead letter handled without running it again; the row and its audit trail stay."""
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        locked.status = DeadLetter.Status.DISCARDED
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "resolved_at"])
        DeadLetterEvent.objects.create(
            dead_letter=locked, action=DeadLetterEvent.Action.DISCARDED, actor=actor, note=reason
        )
    log.info("dead_letter.discarded", dead_letter_id=locked.pk, job_id=locked.job_id, actor=actor)
    dead_letter.refresh_from_db()
    return locked
