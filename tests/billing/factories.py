"""Billing test data, built through services as production builds it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing import services
from billing.models import Subscription
from tests.workspaces.factories import make_user, make_workspace
from workspaces.models import Workspace


def workspace_on(plan: str = "free", **subscription_fields: Any) -> Workspace:
    """A workspace whose subscription is on `plan` (set by hand, as an operator would)."""
    workspace = make_workspace(make_user("billing"))
    if plan != "free":
        services.change_plan(workspace_id=workspace.pk, plan=plan)
    if subscription_fields:
        Subscription.objects.filter(workspace=workspace).update(**subscription_fields)
    return workspace


def stripe_billed(workspace: Workspace, *, plan: str, start: datetime, end: datetime, status: str = "active") -> Subscription:
    services.change_plan(workspace_id=workspace.pk, plan=plan, status=status)
    Subscription.objects.filter(workspace=workspace).update(
        stripe_customer_id=f"cus_test{workspace.pk}",
        stripe_subscription_id=f"sub_test{workspace.pk}",
        current_period_start=start,
        current_period_end=end,
    )
    return Subscription.objects.get(workspace=workspace)
