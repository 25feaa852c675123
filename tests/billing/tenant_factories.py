"""Tenant factories of the billing app for the cross-tenant walk (see tests/tenancy.py).

Billing's API has no object routes (usage is per workspace), but every tenant model is registered
so the list checks hold both workspaces' billing rows while they walk every endpoint."""

from __future__ import annotations

import secrets

from billing import services
from billing.models import RunReservation, Subscription, UsageRecord
from tests.tenancy import tenant_factory
from workspaces.models import Workspace


@tenant_factory(Subscription)
def make_subscription(workspace: Workspace) -> Subscription:
    return services.ensure_subscription(workspace_id=workspace.pk)


@tenant_factory(UsageRecord)
def make_usage_record(workspace: Workspace) -> UsageRecord:
    record, _ = services.record_usage(
        workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key=f"command:{secrets.token_hex(6)}"
    )
    return record


@tenant_factory(RunReservation)
def make_run_reservation(workspace: Workspace) -> RunReservation:
    key = f"review_run:{secrets.token_hex(6)}"
    services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key=key)
    return RunReservation.objects.get(run_key=key)
