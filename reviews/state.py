"""The review-run state machine: atomic transitions by conditional UPDATE, signals after commit.

    queued  -> running | skipped | cancelled | failed
    running -> completed | failed | cancelled | skipped

`transition()` changes `status` only if the row is still in one of the allowed source states
(`UPDATE ... WHERE id = %s AND status IN (...)`), so of two workers racing on one run exactly one
wins, and a run cancelled while it executes cannot be completed afterwards. The matching domain
signal (`reviews.signals`) is sent after the surrounding transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from reviews import signals
from reviews.models import TERMINAL_STATUSES, ReviewRun, RunStatus

log = structlog.get_logger("reviews.state")

ALLOWED: dict[str, frozenset[str]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.SKIPPED, RunStatus.CANCELLED, RunStatus.FAILED}),
    RunStatus.RUNNING: frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED}),
}

SIGNAL_FOR: dict[str, Signal] = {
    RunStatus.RUNNING: signals.run_started,
    RunStatus.COMPLETED: signals.run_completed,
    RunStatus.FAILED: signals.run_failed,
    RunStatus.CANCELLED: signals.run_cancelled,
    RunStatus.SKIPPED: signals.run_skipped,
}


SIGNAL_NAMES: dict[int, str] = {
    id(getattr(signals, name)): name
    for name in (
        "run_created", "run_started", "run_completed", "run_failed", "run_skipped", "run_cancelled",
        "finding_reported", "annotation_posted", "briefing_posted",
    )
}


def sources_for(target: str) -> list[str]:
    return [source for source, targets in ALLOWED.items() if target in targets]


def send_after_commit(signal: Signal, **kwargs: Any) -> None:
    """Send a domain signal once the current transaction commits (at once outside one).

    Receivers run robustly: one failing listener (say analytics) is logged loudly and does not
    undo the transition or stop the other listeners (billing).
    """

    name = SIGNAL_NAMES.get(id(signal), "signal")

    def send() -> None:
        # One log line per domain event, in the order they are sent (tests and operators read it).
        log.info("reviews.event", event_name=name, run_id=getattr(kwargs.get("run"), "pk", None))
        for receiver, result in signal.send_robust(sender=ReviewRun, **kwargs):
            if isinstance(result, Exception):
                log.error(
                    "reviews.receiver_failed",
                    receiver=getattr(receiver, "__qualname__", repr(receiver)),
                    error=f"{type(result).__name__}: {result}",
                    run_id=getattr(kwargs.get("run"), "pk", None),
                )

    transaction.on_commit(send)


def transition(
    run_id: int,
    *,
    to: str,
    from_: Iterable[str] | None = None,
    **fields: Any,
) -> ReviewRun | None:
    """Move run `run_id` to `to` if it is in one of `from_` (default: every allowed source).

    Returns the run in its new state, or None when the row was not in a source state (someone else
    moved it first). `fields` are written in the same UPDATE. Claiming (`to=running`) counts an
    attempt; terminal states stamp `finished_at`.
    """
    sources = list(from_) if from_ is not None else sources_for(to)
    bad = [s for s in sources if to not in ALLOWED.get(s, frozenset())]
    if bad:
        raise ValueError(f"transition {bad} -> {to} is not allowed")
    now = timezone.now()
    values: dict[str, Any] = {"status": to, "updated_at": now, **fields}
    if to == RunStatus.RUNNING:
        values.setdefault("started_at", now)
        values["attempts"] = F("attempts") + 1
    if to in TERMINAL_STATUSES:
        values.setdefault("finished_at", now)
        if to == RunStatus.COMPLETED:
            values.setdefault("progress", 100)
    with transaction.atomic():
        updated = ReviewRun.objects.filter(pk=run_id, status__in=sources).update(**values)
        if not updated:
            return None
        run = ReviewRun.objects.select_related("repository").get(pk=run_id)
        log.info("review_run.transition", run_id=run_id, to=to, skip_reason=run.skip_reason or None)
        send_after_commit(SIGNAL_FOR[to], run=run)
    return run


def resume(run_id: int) -> ReviewRun | None:
    """Take over a run left `running` by a worker that died (caller holds the run's execution lock)."""
    with transaction.atomic():
        updated = ReviewRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            attempts=F("attempts") + 1, updated_at=timezone.now()
        )
        if not updated:
            return None
        return ReviewRun.objects.select_related("repository").get(pk=run_id)
