"""Billing's receivers, driven by the reviews state machine and the integrations signal."""

from __future__ import annotations

import pytest

from billing import selectors, services
from billing.models import QuotaCounter, ReservationStatus, RunReservation, UsageRecord
from billing.signals import usage_recorded
from integrations.signals import command_executed
from reviews import state
from reviews.models import RunStatus, SkipReason
from tests.billing.factories import workspace_on
from tests.reviews.factories import make_run

pytestmark = pytest.mark.django_db


def _start(run) -> None:
    decision = services.reserve_review_run(
        workspace_id=run.workspace_id, repository_id=run.repository_id, run_key=run.billing_run_key
    )
    assert decision.allowed
    state.transition(run.pk, to=RunStatus.RUNNING)


def _used(workspace) -> int:
    return QuotaCounter.objects.get(workspace=workspace, metric="review_run").used


def test_completed_run_records_run_tokens_and_cost_once(django_capture_on_commit_callbacks) -> None:
    workspace = workspace_on("pro")
    run = make_run(workspace)
    recorded: list = []
    usage_recorded.connect(lambda sender, record, **kw: recorded.append(record.metric), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _start(run)
            state.transition(run.pk, to=RunStatus.COMPLETED, input_tokens=1200, output_tokens=300, cost_microusd=4500)
        # The same signal again (a duplicated delivery) changes nothing.
        completed = type(run).objects.get(pk=run.pk)
        with django_capture_on_commit_callbacks(execute=True):
            from reviews.signals import run_completed

            run_completed.send(sender=type(run), run=completed)
    finally:
        usage_recorded.disconnect(dispatch_uid="t1")
    keys = set(UsageRecord.objects.filter(workspace=workspace).values_list("idempotency_key", flat=True))
    assert keys == {
        f"review_run:{run.pk}", f"input_tokens:{run.pk}", f"output_tokens:{run.pk}",
        f"ai_cost_microusd:{run.pk}", f"platform_ai_cost_microusd:{run.pk}",
    }
    assert sorted(recorded) == sorted(["review_run", "input_tokens", "output_tokens", "ai_cost_microusd", "platform_ai_cost_microusd"])
    totals = selectors.usage_totals(workspace.pk, selectors.current_period(workspace.pk).start)
    assert totals["review_run"] == 1 and totals["input_tokens"] == 1200 and totals["ai_cost_microusd"] == 4500
    assert RunReservation.objects.get(run_key=run.billing_run_key).status == ReservationStatus.CONSUMED
    # A consumed run cannot be released any more: completed runs count.
    services.release_review_run(workspace_id=workspace.pk, run_key=run.billing_run_key)
    assert _used(workspace) == 1


def test_byok_run_cost_is_not_platform_spend(django_capture_on_commit_callbacks) -> None:
    workspace = workspace_on("pro")
    run = make_run(workspace, byok=True)
    with django_capture_on_commit_callbacks(execute=True):
        _start(run)
        state.transition(run.pk, to=RunStatus.COMPLETED, cost_microusd=999)
    metrics = set(UsageRecord.objects.filter(workspace=workspace).values_list("metric", flat=True))
    assert "ai_cost_microusd" in metrics and "platform_ai_cost_microusd" not in metrics


@pytest.mark.parametrize(
    ("to", "fields"),
    [
        (RunStatus.SKIPPED, {"skip_reason": SkipReason.NO_REVIEWABLE_FILES}),
        (RunStatus.FAILED, {"error_code": "engine_error"}),
        (RunStatus.CANCELLED, {}),
    ],
)
def test_skipped_failed_and_cancelled_runs_never_count(django_capture_on_commit_callbacks, to, fields) -> None:
    workspace = workspace_on("free")
    run = make_run(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        _start(run)
        assert _used(workspace) == 1
        state.transition(run.pk, to=to, **fields)
    assert _used(workspace) == 0
    assert RunReservation.objects.get(run_key=run.billing_run_key).status == ReservationStatus.RELEASED
    assert not UsageRecord.objects.filter(workspace=workspace, metric="review_run").exists()


def test_commands_that_ran_are_metered_once_and_denied_ones_not(django_capture_on_commit_callbacks) -> None:
    workspace = workspace_on("free")
    for status, run_id in (("completed", 1), ("completed", 1), ("failed", 2), ("denied", 3)):
        command_executed.send(
            sender=None, workspace_id=workspace.pk, repository_id=None, command="review", status=status,
            command_run_id=run_id,
        )
    records = UsageRecord.objects.filter(workspace=workspace, metric="command")
    assert sorted(records.values_list("idempotency_key", flat=True)) == ["command:1", "command:2"]


def test_command_quota_boundary() -> None:
    workspace = workspace_on("free")
    limit = 50
    for i in range(limit - 1):
        services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key=f"command:{i}")
    assert services.check_command_allowed(workspace_id=workspace.pk).allowed
    services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key="command:last")
    decision = services.check_command_allowed(workspace_id=workspace.pk)
    assert not decision.allowed and decision.reason == "quota_exhausted"
