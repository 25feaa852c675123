"""Tenant factories of the integrations app for the cross-tenant walk (see tests/tenancy.py).

The AI helper appends its own (ProviderKey) below."""

from __future__ import annotations

import secrets

from integrations import services
from integrations.models import CommandRun, DeliveryStatus, Installation, Repository, WebhookDelivery
from tests.tenancy import tenant_factory
from workspaces.models import Workspace


def _github_id() -> int:
    return secrets.randbelow(10**9) + 10**6


@tenant_factory(Installation)
def make_installation(workspace: Workspace) -> Installation:
    login = f"acct-{secrets.token_hex(3)}"
    data = services.InstallationData(
        github_id=_github_id(), account_login=login, account_type="Organization", account_id=_github_id(),
        repository_selection="selected", permissions={"pull_requests": "write"}, events=["pull_request"],
    )
    installation, _ = services.installation_upsert(data=data, action="created")
    return services.installation_relink(installation=installation, workspace=workspace)


@tenant_factory(Repository)
def make_repository(workspace: Workspace) -> Repository:
    installation = make_installation(workspace)
    data = services.RepositoryData(github_id=_github_id(), full_name=f"{installation.account_login}/repo", private=True)
    (repository,) = services.repositories_upsert(installation=installation, repositories=[data], enable_new=False)
    return repository


@tenant_factory(WebhookDelivery)
def make_webhook_delivery(workspace: Workspace) -> WebhookDelivery:
    repository = make_repository(workspace)
    return WebhookDelivery.objects.create(
        delivery_id=secrets.token_hex(16), event="ping", status=DeliveryStatus.PROCESSED,
        workspace=workspace, repository=repository, payload={"zen": "Keep it logically awesome."},
        correlation_id="factory",
    )


@tenant_factory(CommandRun)
def make_command_run(workspace: Workspace) -> CommandRun:
    repository = make_repository(workspace)
    comment_id = _github_id()
    return CommandRun.objects.create(
        workspace=workspace, repository=repository, external_reference=f"github:comment:{comment_id}",
        pr_number=1, comment_id=comment_id, command="help", author_login="octocat", author_association="OWNER",
    )


# --- AI provider keys (BYOK) ----------------------------------------------------------------------
from integrations.ai import services as ai_services  # noqa: E402
from integrations.models import ProviderKey  # noqa: E402


@tenant_factory(ProviderKey)
def make_provider_key(workspace: Workspace) -> ProviderKey:
    return ai_services.provider_key_create(
        workspace=workspace,
        actor=None,
        provider="openai",
        label=f"key-{secrets.token_hex(3)}",
        secret=f"sk-test-{secrets.token_hex(16)}",
    )
