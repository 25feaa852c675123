"""Receivers of the other apps' domain signals: turn each into event facts and queue ingestion.

Signals arrive after the sender's transaction committed. A receiver reads the attributes the
contract names (docs/analytics.md), builds `EventInput`s with a key that identifies the domain
fact (`run_completed:<run id>`, `finding_reported:<finding id>`, ...) and dispatches
`analytics.jobs.ingest_events` on `default`. Nothing is written inline: a request that sent the
signal never waits for analytics. Re-delivery of the same fact maps to the same key: the job id
de-duplicates it while Redis remembers the job, the Event's unique key afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from django.dispatch import receiver
from django.utils import timezone

from analytics.models import EventKind
from analytics.services import EventInput
from billing import signals as billing_signals
from integrations import signals as integration_signals
from reviews import signals as review_signals

log = structlog.get_logger("analytics.receivers")


def _queue(workspace_id: int | None, events: list[EventInput], *, source_key: str) -> None:
    """Dispatch one ingestion job for the events of one domain signal (job id from `source_key`)."""
    from analytics.jobs import ingest_events
    from queues.dispatch import dispatch

    if workspace_id is None or not events:
        return
    try:
        dispatch(
            ingest_events,
            workspace_id=int(workspace_id),
            entity_ids={"key": source_key},
            data={"events": [e.to_payload() for e in events]},
        )
    except Exception:  # noqa: BLE001 - analytics must never break the sender's flow
        log.exception("analytics.dispatch_failed", source_key=source_key)


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _actor(user: Any) -> str:
    return f"user:{user.pk}" if getattr(user, "pk", None) else ""


def _stamp(moment: datetime | None) -> str:
    """A stable text form of a timestamp for keys of facts that have no id of their own."""
    return (moment or timezone.now()).astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None and v != ""}


# --- reviews -------------------------------------------------------------------------------------

_RUN_SIGNALS = {
    EventKind.RUN_CREATED: review_signals.run_created,
    EventKind.RUN_STARTED: review_signals.run_started,
    EventKind.RUN_COMPLETED: review_signals.run_completed,
    EventKind.RUN_FAILED: review_signals.run_failed,
    EventKind.RUN_SKIPPED: review_signals.run_skipped,
    EventKind.RUN_CANCELLED: review_signals.run_cancelled,
}


def run_event(kind: str, run: Any) -> EventInput:
    """The event of one review-run transition, with the measures the rollups use."""
    started_at = getattr(run, "started_at", None)
    finished_at = getattr(run, "finished_at", None)
    queued_at = getattr(run, "queued_at", None) or getattr(run, "created_at", None)
    data: dict[str, Any] = {
        "run_id": run.pk,
        "pr_number": getattr(run, "pr_number", None),
        "trigger": getattr(run, "trigger", ""),
        "queue": getattr(run, "queue", ""),
    }
    if kind == EventKind.RUN_CREATED:
        occurred = getattr(run, "created_at", None) or queued_at
    elif kind == EventKind.RUN_STARTED:
        occurred = started_at
        data["queue_wait_ms"] = _ms(queued_at, started_at)
    else:
        occurred = finished_at
        if kind in (EventKind.RUN_COMPLETED, EventKind.RUN_FAILED):
            data.update(
                duration_ms=_ms(started_at, finished_at),
                provider=getattr(run, "provider", ""),
                model=getattr(run, "model", ""),
                byok=bool(getattr(run, "byok", False)),
                input_tokens=_int(getattr(run, "input_tokens", 0)),
                output_tokens=_int(getattr(run, "output_tokens", 0)),
                cost_microusd=_int(getattr(run, "cost_microusd", 0)),
            )
        if kind == EventKind.RUN_FAILED:
            data["error_code"] = getattr(run, "error_code", "")
        if kind == EventKind.RUN_SKIPPED:
            data["skip_reason"] = getattr(run, "skip_reason", "")
    return EventInput(
        key=f"{kind}:{run.pk}",
        kind=str(kind),
        occurred_at=occurred or timezone.now(),
        repository_id=getattr(run, "repository_id", None),
        actor="",
        data=_clean(data),
    )


def _connect_run_signal(kind: str, signal: Any) -> None:
    def on_run_event(sender: Any, run: Any, **kwargs: Any) -> None:
        event = run_event(kind, run)
        _queue(run.workspace_id, [event], source_key=event.key)

    on_run_event.__name__ = f"record_{kind}"
    signal.connect(on_run_event, dispatch_uid=f"analytics.{kind}", weak=False)


for _kind, _signal in _RUN_SIGNALS.items():
    _connect_run_signal(str(_kind), _signal)


def finding_events(run: Any, findings: list[Any]) -> list[EventInput]:
    occurred = getattr(run, "finished_at", None) or timezone.now()
    return [
        EventInput(
            key=f"{EventKind.FINDING_REPORTED}:{finding.pk}",
            kind=str(EventKind.FINDING_REPORTED),
            occurred_at=occurred,
            repository_id=getattr(run, "repository_id", None),
            data=_clean(
                {
                    "run_id": run.pk,
                    "finding_id": finding.pk,
                    "severity": getattr(finding, "severity", ""),
                    "category": getattr(finding, "category", ""),
                }
            ),
        )
        for finding in findings
    ]


@receiver(review_signals.finding_reported, dispatch_uid="analytics.finding_reported")
def record_findings(sender: Any, run: Any, findings: list[Any], **kwargs: Any) -> None:
    events = finding_events(run, list(findings))
    _queue(run.workspace_id, events, source_key=f"findings:{run.pk}")


@receiver(review_signals.annotation_posted, dispatch_uid="analytics.annotation_posted")
def record_annotation(sender: Any, run: Any, annotation: Any, **kwargs: Any) -> None:
    event = EventInput(
        key=f"{EventKind.ANNOTATION_POSTED}:{annotation.pk}",
        kind=str(EventKind.ANNOTATION_POSTED),
        occurred_at=getattr(annotation, "posted_at", None) or timezone.now(),
        repository_id=getattr(run, "repository_id", None),
        data=_clean(
            {
                "run_id": run.pk,
                "annotation_id": annotation.pk,
                "finding_id": getattr(annotation, "finding_id", None),
                "kind": getattr(annotation, "kind", ""),
            }
        ),
    )
    _queue(run.workspace_id, [event], source_key=event.key)


@receiver(review_signals.briefing_posted, dispatch_uid="analytics.briefing_posted")
def record_briefing(sender: Any, workspace_id: int, briefing_id: int, **kwargs: Any) -> None:
    event = EventInput(
        key=f"{EventKind.BRIEFING_POSTED}:{briefing_id}",
        kind=str(EventKind.BRIEFING_POSTED),
        occurred_at=timezone.now(),
        data={"briefing_id": briefing_id},
    )
    _queue(workspace_id, [event], source_key=event.key)


# --- billing -------------------------------------------------------------------------------------


@receiver(billing_signals.usage_recorded, dispatch_uid="analytics.usage_recorded")
def record_usage(sender: Any, record: Any, **kwargs: Any) -> None:
    event = EventInput(
        key=f"{EventKind.USAGE_RECORDED}:{record.pk}",
        kind=str(EventKind.USAGE_RECORDED),
        occurred_at=getattr(record, "occurred_at", None) or timezone.now(),
        repository_id=getattr(record, "repository_id", None),
        data=_clean(
            {
                "metric": getattr(record, "metric", ""),
                "quantity": _int(getattr(record, "quantity", 0)),
                "source": getattr(record, "source", ""),
            }
        ),
    )
    _queue(record.workspace_id, [event], source_key=event.key)


@receiver(billing_signals.subscription_changed, dispatch_uid="analytics.subscription_changed")
def record_subscription_change(
    sender: Any, subscription: Any, previous_plan: str | None = None, previous_status: str | None = None, **kwargs: Any
) -> None:
    changed_at = getattr(subscription, "updated_at", None)
    plan = getattr(subscription, "plan", None)
    plan_name = getattr(plan, "name", plan)
    event = EventInput(
        key=f"{EventKind.SUBSCRIPTION_CHANGED}:{subscription.pk}:{_stamp(changed_at)}",
        kind=str(EventKind.SUBSCRIPTION_CHANGED),
        occurred_at=changed_at or timezone.now(),
        data=_clean(
            {
                "plan": str(plan_name) if plan_name is not None else None,
                "status": getattr(subscription, "status", None),
                "previous_plan": previous_plan,
                "previous_status": previous_status,
            }
        ),
    )
    _queue(getattr(subscription, "workspace_id", None), [event], source_key=event.key)


@receiver(billing_signals.quota_exhausted, dispatch_uid="analytics.quota_exhausted")
def record_quota_exhausted(
    sender: Any, workspace_id: int, metric: str, limit: Any = None, period_start: Any = None, **kwargs: Any
) -> None:
    period = period_start.isoformat() if hasattr(period_start, "isoformat") else str(period_start or "")
    event = EventInput(
        key=f"{EventKind.QUOTA_EXHAUSTED}:{workspace_id}:{metric}:{period}",
        kind=str(EventKind.QUOTA_EXHAUSTED),
        occurred_at=timezone.now(),
        data=_clean({"metric": metric, "limit": limit, "period_start": period}),
    )
    _queue(workspace_id, [event], source_key=event.key)


# --- integrations --------------------------------------------------------------------------------


def _repository_event(kind: str, repository: Any, actor: Any) -> EventInput:
    changed_at = getattr(repository, "updated_at", None)
    return EventInput(
        key=f"{kind}:{repository.pk}:{_stamp(changed_at)}",
        kind=kind,
        occurred_at=changed_at or timezone.now(),
        repository_id=repository.pk,
        actor=_actor(actor),
        data=_clean({"full_name": getattr(repository, "full_name", ""), "provider": getattr(repository, "provider", "")}),
    )


@receiver(integration_signals.repository_enabled, dispatch_uid="analytics.repository_enabled")
def record_repository_enabled(sender: Any, repository: Any, actor: Any = None, **kwargs: Any) -> None:
    event = _repository_event(str(EventKind.REPOSITORY_ENABLED), repository, actor)
    _queue(repository.workspace_id, [event], source_key=event.key)


@receiver(integration_signals.repository_disabled, dispatch_uid="analytics.repository_disabled")
def record_repository_disabled(sender: Any, repository: Any, actor: Any = None, **kwargs: Any) -> None:
    event = _repository_event(str(EventKind.REPOSITORY_DISABLED), repository, actor)
    _queue(repository.workspace_id, [event], source_key=event.key)


@receiver(integration_signals.installation_changed, dispatch_uid="analytics.installation_changed")
def record_installation_changed(sender: Any, installation: Any, action: str = "", **kwargs: Any) -> None:
    changed_at = getattr(installation, "updated_at", None)
    event = EventInput(
        key=f"{EventKind.INSTALLATION_CHANGED}:{installation.pk}:{action}:{_stamp(changed_at)}",
        kind=str(EventKind.INSTALLATION_CHANGED),
        occurred_at=changed_at or timezone.now(),
        data=_clean({"installation_id": installation.pk, "action": action}),
    )
    _queue(getattr(installation, "workspace_id", None), [event], source_key=event.key)


@receiver(integration_signals.command_executed, dispatch_uid="analytics.command_executed")
def record_command_executed(
    sender: Any,
    workspace_id: int,
    repository_id: int | None = None,
    command: str = "",
    status: str = "",
    command_run_id: Any = None,
    **kwargs: Any,
) -> None:
    # Without a command run id there is nothing to de-duplicate on: key by the moment instead.
    identity = command_run_id if command_run_id is not None else f"ws{workspace_id}:{_stamp(None)}"
    event = EventInput(
        key=f"{EventKind.COMMAND_EXECUTED}:{identity}",
        kind=str(EventKind.COMMAND_EXECUTED),
        occurred_at=timezone.now(),
        repository_id=repository_id,
        data=_clean({"command": command, "status": status, "command_run_id": command_run_id}),
    )
    _queue(workspace_id, [event], source_key=event.key)


@receiver(integration_signals.provider_key_invalidated, dispatch_uid="analytics.provider_key_invalidated")
def record_provider_key_invalidated(
    sender: Any, workspace_id: int, provider: str = "", key_id: Any = None, **kwargs: Any
) -> None:
    # No id of its own: one event per key per minute (a burst of auth failures is one fact).
    minute = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%M")
    event = EventInput(
        key=f"{EventKind.PROVIDER_KEY_INVALIDATED}:{key_id}:{minute}",
        kind=str(EventKind.PROVIDER_KEY_INVALIDATED),
        occurred_at=timezone.now(),
        data=_clean({"provider": provider, "key_id": key_id}),
    )
    _queue(workspace_id, [event], source_key=event.key)
