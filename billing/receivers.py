"""Billing's listeners to other domains' events. Connected in `BillingConfig.ready`.

Each receiver records usage or releases a reservation in one short transaction; all of them are
idempotent (usage keys are unique, release is a no-op the second time), so a signal delivered
twice or a retried sender never counts twice.
"""

from __future__ import annotations

from typing import Any

import structlog

from billing import services
from billing.models import Metric

log = structlog.get_logger(__name__)


def on_workspace_created(
    sender: Any, *, workspace: Any, plan: str = "free", created_by: Any = None, **kwargs: Any
) -> None:
    """Every new workspace gets its subscription row.

    A paid plan named at creation is granted only when an operator creates the workspace (no user,
    or a staff user: `manage.py create_workspace`, the admin, demos). Anyone else asking for a paid
    plan through the API starts on free and upgrades through Stripe Checkout — otherwise a POST with
    `"plan": "enterprise"` would be a free enterprise plan.
    """
    requested = plan or "free"
    operator = created_by is None or bool(getattr(created_by, "is_staff", False))
    if requested != "free" and not operator:
        log.info("billing.paid_plan_request_ignored", workspace_id=workspace.pk, requested=requested)
        requested = "free"
    services.ensure_subscription(workspace_id=workspace.pk, plan=requested)


def on_run_completed(sender: Any, *, run: Any, **kwargs: Any) -> None:
    """A completed run counts: consume its reservation and meter the run, its tokens and its cost."""
    workspace_id = run.workspace_id
    key = services.run_key_for(run.pk)
    services.consume_review_run(workspace_id=workspace_id, run_key=key)
    occurred_at = getattr(run, "finished_at", None)
    source = f"review_run:{run.pk}"
    cost = int(getattr(run, "cost_microusd", 0) or 0)
    quantities = {
        Metric.REVIEW_RUN: 1,
        Metric.INPUT_TOKENS: int(getattr(run, "input_tokens", 0) or 0),
        Metric.OUTPUT_TOKENS: int(getattr(run, "output_tokens", 0) or 0),
        Metric.AI_COST_MICROUSD: cost,
    }
    if not getattr(run, "byok", False):
        # Spend on Sentinel's own keys: the plan's AI spend cap meters this one.
        quantities[Metric.PLATFORM_AI_COST_MICROUSD] = cost
    for metric, quantity in quantities.items():
        if quantity or metric == Metric.REVIEW_RUN:  # zero-token rows would only bloat the ledger
            services.record_usage(
                workspace_id=workspace_id,
                metric=metric,
                quantity=quantity,
                idempotency_key=f"{metric}:{run.pk}",
                source=source,
                occurred_at=occurred_at,
            )


def on_run_not_completed(sender: Any, *, run: Any, **kwargs: Any) -> None:
    """Skipped, failed and cancelled runs never count: give their reservation back."""
    services.release_review_run(workspace_id=run.workspace_id, run_key=services.run_key_for(run.pk))


def on_command_executed(
    sender: Any, *, workspace_id: int, command_run_id: Any, status: str = "completed", command: str = "", **kwargs: Any
) -> None:
    """A command that ran (completed or failed) counts; a denied one did not run and does not."""
    if status == "denied":
        return
    services.record_usage(
        workspace_id=workspace_id,
        metric=Metric.COMMAND,
        quantity=1,
        idempotency_key=f"command:{command_run_id}",
        source=f"command:{command}" if command else "command",
    )


def connect() -> None:
    from integrations import signals as integration_signals
    from reviews import signals as review_signals
    from workspaces.signals import workspace_created

    workspace_created.connect(on_workspace_created, dispatch_uid="billing.workspace_created")
    review_signals.run_completed.connect(on_run_completed, dispatch_uid="billing.run_completed")
    for name in ("run_skipped", "run_failed", "run_cancelled"):
        getattr(review_signals, name).connect(on_run_not_completed, dispatch_uid=f"billing.{name}")
    integration_signals.command_executed.connect(on_command_executed, dispatch_uid="billing.command_executed")
