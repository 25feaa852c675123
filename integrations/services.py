"""Writes of the integrations domain: installations, repositories, deliveries, pauses.

Every write to these rows goes through here (API views, admin actions, sync jobs, routing).
Domain signals are sent after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from integrations import signals
from integrations.exceptions import RepositoryLimitReached, RepositoryUnavailable
from integrations.models import (
    CommandRun,
    CommandStatus,
    DeliveryStatus,
    Installation,
    PausedPullRequest,
    Repository,
    SourceProvider,
    WebhookDelivery,
)
from workspaces import services as workspace_services
from workspaces.models import Workspace

log = structlog.get_logger("integrations.services")

# Dashboard review settings the API accepts, with their types (the review policy reads them;
# the repository's config file still wins over them).
REVIEW_SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "review_drafts": bool,
    "review_bot_authors": bool,
    "min_severity": str,
    "post_threshold": str,
    "max_findings": int,
    "ignored_paths": list,
    "categories": dict,
    "style": str,
    "include_suggestions": bool,
    "provider": dict,
}


def _send_after_commit(signal: Any, **kwargs: Any) -> None:
    sender = Repository if "repository" in kwargs else Installation
    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs))


def _enable_allowed(workspace_id: int) -> tuple[bool, str]:
    from billing.services import check_repository_enable_allowed

    decision = check_repository_enable_allowed(workspace_id=workspace_id)
    return decision.allowed, decision.message


# --- repositories ------------------------------------------------------------------------------


@transaction.atomic
def repository_enable(*, repository: Repository, actor: Any = None) -> Repository:
    """Turn automatic review on, within the plan's repository limit (402 when it is reached)."""
    repository = Repository.objects.select_for_update().get(pk=repository.pk)
    if repository.enabled:
        return repository
    if repository.removed_at is not None:
        raise RepositoryUnavailable()
    allowed, message = _enable_allowed(repository.workspace_id)
    if not allowed:
        raise RepositoryLimitReached(message or None)
    repository.enabled = True
    repository.save(update_fields=["enabled", "updated_at"])
    _send_after_commit(signals.repository_enabled, repository=repository, actor=actor)
    return repository


@transaction.atomic
def repository_disable(*, repository: Repository, actor: Any = None) -> Repository:
    repository = Repository.objects.select_for_update().get(pk=repository.pk)
    if not repository.enabled:
        return repository
    repository.enabled = False
    repository.save(update_fields=["enabled", "updated_at"])
    _send_after_commit(signals.repository_disabled, repository=repository, actor=actor)
    return repository


@transaction.atomic
def repository_update_settings(*, repository: Repository, review_settings: dict[str, Any]) -> Repository:
    """Replace the dashboard review settings (validated by the API serializer)."""
    repository = Repository.objects.select_for_update().get(pk=repository.pk)
    repository.review_settings = review_settings
    repository.save(update_fields=["review_settings", "updated_at"])
    return repository


# --- installations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallationData:
    """What GitHub tells us about an installation (webhook payload or REST response)."""

    github_id: int
    account_login: str
    account_type: str
    account_id: int | None
    repository_selection: str
    permissions: dict[str, Any]
    events: list[str]
    suspended_at: Any = None

    @classmethod
    def from_github(cls, data: dict[str, Any]) -> InstallationData:
        account = data.get("account") or {}
        return cls(
            github_id=int(data["id"]),
            account_login=str(account.get("login") or account.get("slug") or ""),
            account_type=str(account.get("type") or ""),
            account_id=account.get("id") if isinstance(account.get("id"), int) else None,
            repository_selection=str(data.get("repository_selection") or ""),
            permissions=dict(data.get("permissions") or {}),
            events=list(data.get("events") or []),
            suspended_at=data.get("suspended_at"),
        )


@dataclass(frozen=True)
class RepositoryData:
    github_id: int
    full_name: str
    private: bool
    default_branch: str | None = None

    @classmethod
    def from_github(cls, data: dict[str, Any]) -> RepositoryData:
        return cls(
            github_id=int(data["id"]),
            full_name=str(data["full_name"]),
            private=bool(data.get("private", True)),
            default_branch=data.get("default_branch"),
        )


def _system_user() -> Any:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=settings.SENTINEL_SYSTEM_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _workspace_for_new_installation(data: InstallationData) -> Workspace:
    """The workspace a new installation joins: its account's earlier one, else a new free one."""
    previous = None
    if data.account_id is not None:
        previous = Installation.objects.filter(account_id=data.account_id).order_by("-created_at").first()
    if previous is None and data.account_login:
        previous = Installation.objects.filter(account_login__iexact=data.account_login).order_by("-created_at").first()
    if previous is not None:
        return previous.workspace
    return workspace_services.workspace_create(name=data.account_login or f"installation-{data.github_id}", owner=_system_user())


@transaction.atomic
def installation_upsert(*, data: InstallationData, action: str) -> tuple[Installation, bool]:
    """Create or update the Installation row from GitHub's data. Returns (installation, created)."""
    installation = Installation.objects.select_for_update().filter(github_installation_id=data.github_id).first()
    created = installation is None
    if installation is None:
        installation = Installation(github_installation_id=data.github_id, workspace=_workspace_for_new_installation(data))
    installation.account_login = data.account_login or installation.account_login
    installation.account_type = data.account_type or installation.account_type
    installation.account_id = data.account_id if data.account_id is not None else installation.account_id
    installation.repository_selection = data.repository_selection or installation.repository_selection
    installation.permissions = data.permissions
    installation.events = data.events
    if action == "created":
        installation.deleted_at = None
    if data.suspended_at and installation.suspended_at is None:
        installation.suspended_at = _parse_time(data.suspended_at) or timezone.now()
    elif not data.suspended_at and action in ("unsuspend", "created", "synced"):
        installation.suspended_at = None
    installation.save()
    _send_after_commit(signals.installation_changed, installation=installation, action=action)
    return installation, created


@transaction.atomic
def installation_set_state(*, installation: Installation, action: str) -> Installation:
    """Apply `deleted`, `suspend` or `unsuspend` to a known installation."""
    installation = Installation.objects.select_for_update().get(pk=installation.pk)
    now = timezone.now()
    if action == "deleted":
        installation.deleted_at = now
        repositories_remove(installation=installation, github_ids=None)
    elif action == "suspend":
        installation.suspended_at = installation.suspended_at or now
    elif action == "unsuspend":
        installation.suspended_at = None
    installation.save()
    _send_after_commit(signals.installation_changed, installation=installation, action=action)
    return installation


@transaction.atomic
def installation_relink(*, installation: Installation, workspace: Workspace, actor: Any = None) -> Installation:
    """Move an installation and its repositories to another workspace (operators only)."""
    installation = Installation.objects.select_for_update().get(pk=installation.pk)
    if installation.workspace_id == workspace.pk:
        return installation
    old_workspace_id = installation.workspace_id
    installation.workspace = workspace
    installation.save(update_fields=["workspace", "updated_at"])
    Repository.objects.filter(installation=installation).update(workspace=workspace, updated_at=timezone.now())
    PausedPullRequest.objects.filter(repository__installation=installation).update(workspace=workspace)
    log.info("github.installation_relinked", installation_id=installation.github_installation_id,
             from_workspace=old_workspace_id, to_workspace=workspace.pk, actor=str(actor) if actor else None)
    _send_after_commit(signals.installation_changed, installation=installation, action="relinked")
    return installation


@transaction.atomic
def repositories_upsert(
    *, installation: Installation, repositories: Iterable[RepositoryData], enable_new: bool = True
) -> list[Repository]:
    """Create or refresh repositories the installation can see.

    New repositories (and ones coming back after removal) are enabled for automatic review, as in
    the original, while the plan's repository limit allows; beyond it they are added disabled.
    """
    result = []
    for data in repositories:
        repository = (
            Repository.objects.select_for_update()
            .filter(provider=SourceProvider.GITHUB, provider_id=str(data.github_id))
            .first()
        )
        returning = repository is not None and repository.removed_at is not None
        if repository is None:
            repository = Repository(
                provider=SourceProvider.GITHUB,
                provider_id=str(data.github_id),
                workspace_id=installation.workspace_id,
                enabled=False,
            )
        repository.installation = installation
        repository.workspace_id = installation.workspace_id
        repository.full_name = data.full_name
        repository.private = data.private
        if data.default_branch:
            repository.default_branch = data.default_branch
        repository.removed_at = None
        is_new = repository.pk is None or returning
        repository.save()
        if is_new and enable_new:
            allowed, _ = _enable_allowed(installation.workspace_id)
            if allowed:
                repository.enabled = True
                repository.save(update_fields=["enabled", "updated_at"])
                _send_after_commit(signals.repository_enabled, repository=repository, actor=None)
            else:
                log.info("github.repository_added_disabled", repository=data.full_name, reason="repository limit")
        result.append(repository)
    return result


@transaction.atomic
def repositories_remove(*, installation: Installation, github_ids: Iterable[int] | None) -> int:
    """Mark repositories the installation lost (all of them when `github_ids` is None)."""
    queryset = Repository.objects.select_for_update().filter(installation=installation, removed_at__isnull=True)
    if github_ids is not None:
        queryset = queryset.filter(provider_id__in=[str(i) for i in github_ids])
    count = 0
    for repository in queryset:
        was_enabled = repository.enabled
        repository.removed_at = timezone.now()
        repository.enabled = False
        repository.save(update_fields=["removed_at", "enabled", "updated_at"])
        if was_enabled:
            _send_after_commit(signals.repository_disabled, repository=repository, actor=None)
        count += 1
    return count


# --- pull-request pauses -------------------------------------------------------------------------


def pull_request_pause(*, repository: Repository, pr_number: int, login: str) -> bool:
    """Stop automatic reviews on one pull request. Returns False when it was already paused."""
    _, created = PausedPullRequest.objects.get_or_create(
        repository=repository, pr_number=pr_number,
        defaults={"workspace_id": repository.workspace_id, "paused_by_login": login},
    )
    return created


def pull_request_resume(*, repository: Repository, pr_number: int) -> bool:
    deleted, _ = PausedPullRequest.objects.filter(repository=repository, pr_number=pr_number).delete()
    return bool(deleted)


def _parse_time(value: Any) -> Any:
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value) if isinstance(value, str) else None


# --- jobs that failed for good (integrations.receivers) --------------------------------------------


def fail_command_run(*, command_run_id: int, reason: str) -> bool:
    """End a command its job could not finish: `failed` with the reason, unless it already ended."""
    from integrations.github import command_runner  # it imports this module

    with transaction.atomic():
        run = CommandRun.objects.select_for_update().filter(pk=command_run_id).first()
        if run is None or run.is_terminal:
            return False
        command_runner.finish(run, status=CommandStatus.FAILED, reason=reason)
    return True


def fail_received_delivery(*, delivery_pk: int, reason: str) -> bool:
    """Mark a delivery whose routing job failed for good `failed`, so the stranded sweep leaves it."""
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_pk, status=DeliveryStatus.RECEIVED).update(
            status=DeliveryStatus.FAILED, reason=reason[:2000], processed_at=timezone.now()
        )
    )
