"""ProcessWebhookEvent's work: route one stored delivery. No external calls, no AI.

The delivery row is locked for the whole routing (`select_for_update(no_key=True)`), and only a
`received` delivery is routed, so two workers (a redelivered job, a stranded-delivery requeue) can
never route it twice. The outcome (processed / ignored with the reason / failed with the reason)
commits together with what routing created (a review run, a command run), and jobs are queued
only after that commit.

Payload shape errors are deterministic: the delivery is marked `failed` with the reason and the
job ends (no retries, which could never help). Anything else (database down) propagates and the
job platform retries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.github import commands
from integrations.github.provider import pull_request_info
from integrations.models import (
    CommandRun,
    DeliveryStatus,
    Installation,
    PausedPullRequest,
    Repository,
    SourceProvider,
    WebhookDelivery,
)
from queues.exceptions import RetryAfter

log = structlog.get_logger("integrations.github.routing")

INSTALLATION_ACTIONS = frozenset({"created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"})
INSTALLATION_REPOSITORIES_ACTIONS = frozenset({"added", "removed"})
REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
OPEN_RUN_STATUSES = ("queued", "running")


class PayloadError(Exception):
    """The payload lacks what its event promises: deterministic, never retried."""


@dataclass
class Outcome:
    status: str
    reason: str = ""
    workspace_id: int | None = None
    repository_id: int | None = None


def processed(reason: str = "", *, repository: Repository | None = None, workspace_id: int | None = None) -> Outcome:
    return Outcome(
        DeliveryStatus.PROCESSED,
        reason,
        workspace_id=repository.workspace_id if repository else workspace_id,
        repository_id=repository.pk if repository else None,
    )


def ignored(reason: str, *, repository: Repository | None = None, workspace_id: int | None = None) -> Outcome:
    return Outcome(
        DeliveryStatus.IGNORED,
        reason,
        workspace_id=repository.workspace_id if repository else workspace_id,
        repository_id=repository.pk if repository else None,
    )


def queue_delivery(*, delivery_pk: int, correlation_id: str, just_stored: bool = False) -> str:
    """Queue ProcessWebhookEvent for a stored delivery (after the current transaction commits).

    `just_stored`: the intake has this moment inserted the row, so no job for it can exist yet and
    the duplicate check is skipped (one Redis round trip fewer on the hot path). Even a duplicate
    would be harmless: `process_delivery` locks the row and routes only `received` deliveries.
    The stranded-delivery sweep keeps the check, since the job it re-queues may still be queued.
    """
    from integrations import jobs
    from queues.dispatch import dispatch

    return dispatch(
        jobs.process_webhook_event,
        workspace_id=None,  # not known before routing; webhook jobs are never throttled per tenant
        entity_ids={"delivery_id": delivery_pk},
        correlation_id=correlation_id,
        unique=not just_stored,
    )


def reprocess_delivery(*, delivery_pk: int, actor: str) -> str:
    """Route a stored delivery again (operator console): `failed` goes back to `received`, then queue.

    Only received (stuck) and failed deliveries qualify; processed and ignored ones raise ValueError.
    The job id gets a suffix so that a finished job still kept by rq under the plain id does not
    swallow the request; routing itself stays single because `process_delivery` locks the row
    and routes only `received` deliveries.
    """
    import time

    from integrations import jobs
    from queues.dispatch import dispatch

    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=delivery_pk)
        if delivery.status not in (DeliveryStatus.RECEIVED, DeliveryStatus.FAILED):
            raise ValueError(f"delivery {delivery.delivery_id} was {delivery.status}; only received/failed are re-processed")
        if delivery.status == DeliveryStatus.FAILED:
            delivery.status = DeliveryStatus.RECEIVED
            delivery.reason = ""
            delivery.save(update_fields=["status", "reason"])
        job_id = dispatch(
            jobs.process_webhook_event,
            workspace_id=None,
            entity_ids={"delivery_id": delivery.pk},
            job_id=f"webhook-delivery-{delivery.pk}-reprocess-{int(time.time() * 1000)}",
            correlation_id=delivery.correlation_id or delivery.delivery_id,
        )
    log.info("webhook.reprocess_requested", delivery_id=delivery.delivery_id, actor=actor, job_id=job_id)
    return job_id


def process_delivery(*, delivery_pk: int) -> str:
    """Route the delivery once; returns its final status (or why nothing was done)."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).filter(pk=delivery_pk).first()
        if delivery is None:
            return "gone"
        if delivery.status != DeliveryStatus.RECEIVED:
            return f"already {delivery.status}"
        payload = delivery.payload if isinstance(delivery.payload, dict) else None
        if payload is not None:
            delivery.action, delivery.installation_id = delivery_envelope(payload)
        try:
            if payload is None:
                raise PayloadError("the stored payload is not a JSON object")
            outcome = route(delivery, payload)
        except PayloadError as exc:
            outcome = Outcome(DeliveryStatus.FAILED, f"malformed {delivery.event} payload: {exc}")
        delivery.status = outcome.status
        delivery.reason = outcome.reason[:2000]
        delivery.workspace_id = outcome.workspace_id
        delivery.repository_id = outcome.repository_id
        delivery.processed_at = timezone.now()
        delivery.save(
            update_fields=["status", "reason", "workspace", "repository", "processed_at", "action", "installation_id"]
        )
    log_method = log.warning if outcome.status == DeliveryStatus.FAILED else log.info
    log_method(
        "webhook.routed",
        delivery_id=delivery.delivery_id,
        github_event=delivery.event,
        action=delivery.action,
        status=outcome.status,
        reason=outcome.reason,
        workspace_id=outcome.workspace_id,
    )
    return outcome.status


BIGINT_MAX = 2**63 - 1


def delivery_envelope(payload: dict[str, Any]) -> tuple[str, int | None]:
    """`action` and `installation.id` for the delivery row (the intake stores the body unread).

    Taken only when well typed: a string action (cut to the column's 64), a whole-number id that
    fits bigint; anything else is left empty for routing's own checks to report.
    """
    action = payload.get("action")
    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    well_typed_id = isinstance(installation_id, int) and not isinstance(installation_id, bool)
    return (
        action[:64] if isinstance(action, str) else "",
        installation_id if well_typed_id and -BIGINT_MAX <= installation_id <= BIGINT_MAX else None,
    )


def route(delivery: WebhookDelivery, payload: dict[str, Any]) -> Outcome:
    event = delivery.event
    if event == "ping":
        return processed("ping")
    if event == "installation":
        return _route_installation(delivery, payload, INSTALLATION_ACTIONS)
    if event == "installation_repositories":
        return _route_installation(delivery, payload, INSTALLATION_REPOSITORIES_ACTIONS)
    if event == "pull_request":
        return _route_pull_request(delivery, payload)
    if event == "issue_comment":
        return _route_issue_comment(delivery, payload)
    return ignored(f"event {event!r} is not handled")


def _require(mapping: Any, key: str, kind: type | tuple[type, ...] = dict) -> Any:
    if not isinstance(mapping, dict):
        raise PayloadError(f"expected an object holding {key!r}")
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise PayloadError(f"{key!r} is missing or not a {getattr(kind, '__name__', kind)}")
    if kind is int and not -BIGINT_MAX <= value <= BIGINT_MAX:
        raise PayloadError(f"{key!r} is out of range")  # every id column is a bigint
    return value


# --- installation events -------------------------------------------------------------------------


def _route_installation(delivery: WebhookDelivery, payload: dict[str, Any], actions: frozenset[str]) -> Outcome:
    action = payload.get("action")
    installation = _require(payload, "installation")
    github_id = _require(installation, "id", int)
    if action not in actions:
        return ignored(f"{delivery.event} action {action!r} is not handled")
    if delivery.event == "installation" and action == "created":
        _require(installation, "account")
    from integrations import jobs
    from queues.dispatch import dispatch

    known = Installation.objects.filter(github_installation_id=github_id).only("workspace_id").first()
    dispatch(
        jobs.apply_installation_event,
        workspace_id=known.workspace_id if known else None,
        entity_ids={"delivery_id": delivery.pk},
        correlation_id=delivery.correlation_id or delivery.delivery_id,
    )
    return processed(f"installation sync queued ({action})", workspace_id=known.workspace_id if known else None)


# --- pull requests ------------------------------------------------------------------------------


SYNC_WAIT_SECONDS = 3
RECENT_INSTALLATION_EVENTS = timedelta(minutes=10)


def _installation_sync_pending(payload: dict[str, Any]) -> bool:
    """Whether this installation's repositories are still being synced from a recent delivery.

    A pull request can be routed before the `installation` (or `installation_repositories`)
    delivery that brings its repository has been applied (sync queue). Then the repository is
    unknown only for a moment: the delivery is retried after a few seconds instead of ignored.
    """
    from integrations import jobs
    from queues.dispatch import job_pending

    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    if not isinstance(installation_id, int):
        return False
    recent = WebhookDelivery.objects.filter(
        event__in=("installation", "installation_repositories"),
        received_at__gte=timezone.now() - RECENT_INSTALLATION_EVENTS,
    ).filter(
        # Routed (routing fills installation_id in) with a sync maybe still to run, or not routed
        # yet (few rows: the partial index on `received` serves them; the id is in the payload).
        Q(installation_id=installation_id)
        | Q(status=DeliveryStatus.RECEIVED, payload__installation__id=installation_id)
    )
    for pk, status in recent.values_list("pk", "status"):
        if status == DeliveryStatus.RECEIVED or job_pending(jobs.apply_installation_event, entity_ids={"delivery_id": pk}):
            return True
    return False


def _repository_for(payload: dict[str, Any]) -> Repository | None:
    repo = _require(payload, "repository")
    github_id = _require(repo, "id", int)
    return (
        Repository.objects.select_related("installation", "workspace")
        .filter(provider=SourceProvider.GITHUB, provider_id=str(github_id))
        .first()
    )


def _setting(repository: Repository, name: str, default: bool = False) -> bool:
    """A dashboard review setting, falling back to the workspace default (config file is read later)."""
    if name in (repository.review_settings or {}):
        return bool(repository.review_settings[name])
    return bool((repository.workspace.default_review_settings or {}).get(name, default))


def _reviewable(repository: Repository | None) -> str | None:
    """Why the repository takes no automatic action, or None."""
    if repository is None:
        return "repository is not connected to Sentinel"
    if repository.removed_at is not None:
        return "repository was removed from the installation"
    installation = repository.installation
    if installation is not None and not installation.is_active:
        return "installation is suspended or deleted"
    return None


def _route_pull_request(delivery: WebhookDelivery, payload: dict[str, Any]) -> Outcome:
    action = payload.get("action")
    pr = _require(payload, "pull_request")
    number = _require(pr, "number", int)
    if action not in REVIEW_ACTIONS and action != "closed":
        return ignored(f"pull_request action {action!r} does not trigger a review")
    repository = _repository_for(payload)
    if repository is None and _installation_sync_pending(payload):
        raise RetryAfter(SYNC_WAIT_SECONDS, "the installation's repositories are still being synced")
    why_not = _reviewable(repository)
    if why_not or repository is None:
        return ignored(why_not or "repository is not connected to Sentinel", repository=repository)

    if action == "closed":
        return _cancel_open_runs(repository, number)

    try:
        info = pull_request_info(pr)
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"pull_request is incomplete ({exc})") from exc
    if not repository.enabled:
        return ignored("automatic review is disabled for this repository", repository=repository)
    if info.state != "open":
        return ignored("pull request is not open", repository=repository)
    if info.draft and not _setting(repository, "review_drafts"):
        return ignored("draft pull request (review_drafts is off)", repository=repository)
    if info.author_is_bot and not _setting(repository, "review_bot_authors"):
        return ignored(f"pull request by a bot ({info.author_login})", repository=repository)
    if PausedPullRequest.objects.filter(repository=repository, pr_number=number).exists():
        return ignored("automatic reviews are paused on this pull request", repository=repository)

    from reviews.services import request_review

    run = request_review(
        repository=repository,
        pr_number=number,
        base_sha=info.base_sha,
        head_sha=info.head_sha,
        trigger="webhook",
        # Empty on purpose: a redelivery or a second event for the same head SHA finds the same run.
        trigger_key="",
        pull_request=info,
    )
    return processed(f"review run {run.pk} ({run.status}) for {info.head_sha[:12]}", repository=repository)


def _cancel_open_runs(repository: Repository, number: int) -> Outcome:
    from reviews.models import ReviewRun
    from reviews.services import cancel_run

    runs = list(ReviewRun.objects.filter(repository_id=repository.pk, pr_number=number, status__in=OPEN_RUN_STATUSES))
    for run in runs:
        cancel_run(run=run, actor="github:pull_request.closed")
    if not runs:
        return ignored("pull request closed; no open review run", repository=repository)
    return processed(f"pull request closed; cancelled {len(runs)} open review run(s)", repository=repository)


# --- comment commands ---------------------------------------------------------------------------


def _route_issue_comment(delivery: WebhookDelivery, payload: dict[str, Any]) -> Outcome:
    action = payload.get("action")
    comment = _require(payload, "comment")
    issue = _require(payload, "issue")
    if action != "created":
        return ignored(f"issue_comment action {action!r} is not a command")
    body = comment.get("body")
    user = comment.get("user") or {}
    if user.get("type") == "Bot" or comment.get("performed_via_github_app"):
        # Never parse a bot's words (Sentinel's own help text mentions @sentinel).
        return ignored("comment by a bot")
    parsed = commands.parse(body if isinstance(body, str) else None)
    if parsed is None:
        return ignored("comment holds no command")
    if not issue.get("pull_request"):
        return ignored("command on an issue, not a pull request")
    comment_id = _require(comment, "id", int)
    number = _require(issue, "number", int)
    repository = _repository_for(payload)
    why_not = _reviewable(repository)
    if why_not or repository is None:
        return ignored(why_not or "repository is not connected to Sentinel", repository=repository)

    reference = f"github:comment:{comment_id}"
    command_run, created = CommandRun.objects.get_or_create(
        workspace_id=repository.workspace_id,
        external_reference=reference,
        defaults={
            "repository": repository,
            "delivery": delivery,
            "pr_number": number,
            "comment_id": comment_id,
            "command": parsed.command,
            "arguments": parsed.word if parsed.command == "unknown" else parsed.arguments,
            "author_login": str(user.get("login") or "")[:255],
            "author_association": str(comment.get("author_association") or "NONE")[:32],
            "correlation_id": delivery.correlation_id or delivery.delivery_id,
        },
    )
    if not created:
        return ignored(f"command {reference} was already received", repository=repository)

    from integrations import jobs
    from queues.dispatch import dispatch

    dispatch(
        jobs.execute_command,
        workspace_id=repository.workspace_id,
        entity_ids={"command_run_id": command_run.pk},
        correlation_id=command_run.correlation_id,
    )
    return processed(f"command {parsed.command!r} queued (command run {command_run.pk})", repository=repository)
