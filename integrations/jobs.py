"""Jobs of the integrations domain. Each takes ids from its envelope, fetches, calls a service.

| job | queue | retry |
|---|---|---|
| process_webhook_event | webhooks | webhook (3, from 2 s) |
| apply_installation_event | sync | database (2, 1 s) |
| sync_installation | sync | external API (3, from 2 s) |
| sync_all_installations | sync (hourly) | external API |
| requeue_stranded_deliveries | system (every minute) | database |
| execute_command | commands | external API |

GitHub errors: transient ones (5xx, rate limits, timeouts) become `RetryAfter` when GitHub said
how long to wait, else they propagate to the policy's backoff; deterministic ones become
`PermanentFailure` (no retry, a dead letter for the operator).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import structlog
from django.utils import timezone

from integrations.models import CommandRun, CommandStatus, Installation, WebhookDelivery
from integrations.source_control.base import SourceControlError
from queues.declaration import job
from queues.dispatch import dispatch
from queues.envelope import Envelope
from queues.exceptions import PermanentFailure, RetryAfter
from queues.retry import RetryPolicy
from queues.topology import Queue

log = structlog.get_logger("integrations.jobs")

# A delivery still `received` this long after arrival lost its job (Redis down at intake, Redis
# emptied): the sweep queues it again. Longer than the webhooks queue's SLA, so a merely busy
# queue is not double-queued (and routing would ignore a second job anyway).
STRANDED_AFTER = timedelta(minutes=2)


@contextmanager
def github_call() -> Iterator[None]:
    """Translate SourceControlError for the job platform (see the module docstring)."""
    try:
        yield
    except SourceControlError as exc:
        if exc.transient:
            if exc.retry_after:
                raise RetryAfter(exc.retry_after, str(exc)) from exc
            raise
        raise PermanentFailure(str(exc)) from exc


@job(queue=Queue.WEBHOOKS, retry=RetryPolicy.WEBHOOK, job_id="webhook-delivery:{delivery_id}",
     limit_concurrency=False, throttle=False)
def process_webhook_event(envelope: Envelope) -> str:
    """Route one stored webhook delivery (no external calls, no AI)."""
    from integrations.github.routing import process_delivery

    return process_delivery(delivery_pk=envelope.entity_ids["delivery_id"])


@job(queue=Queue.SYNC, retry=RetryPolicy.DATABASE, job_id="installation-event:{delivery_id}",
     limit_concurrency=False, throttle=False)
def apply_installation_event(envelope: Envelope) -> str:
    """Create/update Installation and Repository rows from an installation* delivery."""
    from integrations.github.sync import apply_installation_event as apply

    delivery = WebhookDelivery.objects.filter(pk=envelope.entity_ids["delivery_id"]).first()
    if delivery is None:
        return "delivery gone"
    return apply(delivery=delivery)


@job(queue=Queue.SYNC, retry=RetryPolicy.EXTERNAL_API, job_id="installation-sync:{installation_id}",
     limit_concurrency=False, throttle=False)
def sync_installation(envelope: Envelope) -> str:
    """Refresh one installation and its repositories from GitHub's API."""
    from integrations.github import sync

    installation = Installation.objects.filter(pk=envelope.entity_ids["installation_id"]).first()
    if installation is None or installation.deleted_at is not None:
        return "installation gone"
    with github_call():
        return sync.sync_installation(installation=installation)


@job(queue=Queue.SYNC, retry=RetryPolicy.EXTERNAL_API, job_id="installation-sync-all",
     limit_concurrency=False, throttle=False)
def sync_all_installations(envelope: Envelope) -> str:
    """The hourly full sync: learn installations we missed, then sync each one on its own job."""
    from django.conf import settings

    from integrations import services
    from integrations.github import sync

    if not settings.GITHUB_APP_ID or not settings.GITHUB_APP_PRIVATE_KEY:
        return "GitHub App not configured: nothing to sync"
    with github_call():
        listed = sync.list_app_installations()
    for data in listed:
        services.installation_upsert(data=services.InstallationData.from_github(data), action="synced")
    queued = 0
    for installation in Installation.objects.filter(deleted_at__isnull=True).only("pk", "workspace_id"):
        dispatch(sync_installation, workspace_id=installation.workspace_id, entity_ids={"installation_id": installation.pk})
        queued += 1
    return f"{len(listed)} listed, {queued} syncs queued"


@job(queue=Queue.SYSTEM, retry=RetryPolicy.DATABASE, job_id="webhook-requeue-stranded",
     limit_concurrency=False, throttle=False)
def requeue_stranded_deliveries(envelope: Envelope) -> int:
    """Queue ProcessWebhookEvent again for deliveries whose job never ran (Redis lost it)."""
    from integrations.github.routing import queue_delivery

    cutoff = timezone.now() - STRANDED_AFTER
    count = 0
    for pk, correlation_id in WebhookDelivery.objects.stranded(older_than=cutoff).values_list("pk", "correlation_id")[:1000]:
        queue_delivery(delivery_pk=pk, correlation_id=correlation_id)
        count += 1
    if count:
        log.warning("webhook.stranded_requeued", count=count)
    return count


@job(queue=Queue.COMMANDS, retry=RetryPolicy.EXTERNAL_API, job_id="command-run:{command_run_id}")
def execute_command(envelope: Envelope) -> str:
    """Run one `@sentinel` comment command and answer it on the pull request."""
    from integrations.github import command_runner

    command_run_id = envelope.entity_ids["command_run_id"]
    try:
        with github_call():
            return command_runner.execute(command_run_id=command_run_id, workspace_id=envelope.workspace_id)
    except PermanentFailure as exc:
        run = CommandRun.objects.filter(pk=command_run_id).first()
        if run is not None and not run.is_terminal:
            command_runner.finish(run, status=CommandStatus.FAILED, reason=str(exc))
        raise
