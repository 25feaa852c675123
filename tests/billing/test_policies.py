"""AI, repository and seat rules of the plans."""

from __future__ import annotations

import dataclasses

import pytest

from billing import plans, policies, services
from tests.billing.factories import workspace_on
from tests.reviews.factories import make_repository
from tests.workspaces.factories import add_member

pytestmark = pytest.mark.django_db


def test_catalog_has_the_seed_tiers_and_queues() -> None:
    assert [p.name for p in plans.all_versions()] == ["free", "pro", "team", "enterprise"]
    runs = [plans.latest(n).review_runs_per_month for n in plans.PLAN_NAMES]
    commands = [plans.latest(n).commands_per_month for n in plans.PLAN_NAMES]
    seats = [plans.latest(n).seats for n in plans.PLAN_NAMES]
    assert runs == [20, 500, 2000, None] and commands == [50, 200, 1000, None] and seats == [2, 5, None, None]
    assert [plans.latest(n).review_queue.queue_name for n in plans.PLAN_NAMES] == [
        "reviews-default", "reviews-paid", "reviews-paid", "reviews-enterprise",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plans.free().seats = 9  # type: ignore[misc]


def test_plan_catalog_is_mirrored_for_the_admin() -> None:
    from billing.models import PlanVersion

    assert set(PlanVersion.objects.values_list("name", flat=True)) == set(plans.PLAN_NAMES)
    assert PlanVersion.objects.get(name="pro").limits["review_runs_per_month"] == 500


def test_free_plan_requires_byok_for_paid_providers_but_not_offline() -> None:
    workspace = workspace_on("free")
    denied = services.check_ai_allowed(workspace_id=workspace.pk, provider="openai", model="gpt-4o-mini", byok=False)
    assert (denied.allowed, denied.reason) == (False, "byok_required")
    assert services.check_ai_allowed(workspace_id=workspace.pk, provider="openai", model="gpt-4o-mini", byok=True).allowed
    assert services.check_ai_allowed(workspace_id=workspace.pk, provider="offline", model="rules", byok=False).allowed


def test_provider_and_model_restrictions() -> None:
    plan = dataclasses.replace(plans.latest("pro"), ai_providers=("offline", "anthropic"), ai_models=("claude-x",))
    assert policies.ai_decision(plan, provider="openai", model="gpt", byok=True).reason == "provider_not_allowed"
    assert policies.ai_decision(plan, provider="anthropic", model="other", byok=True).reason == "model_not_allowed"
    assert policies.ai_decision(plan, provider="anthropic", model="claude-x", byok=True).allowed


def test_platform_spend_cap_stops_platform_keys_not_byok() -> None:
    workspace = workspace_on("pro")
    cap = plans.latest("pro").ai_spend_cap_microusd
    services.record_usage(workspace_id=workspace.pk, metric="platform_ai_cost_microusd", quantity=cap, idempotency_key="spend:1")
    denied = services.check_ai_allowed(workspace_id=workspace.pk, provider="anthropic", model="m", byok=False)
    assert (denied.allowed, denied.reason) == (False, "spend_cap_reached")
    assert services.check_ai_allowed(workspace_id=workspace.pk, provider="anthropic", model="m", byok=True).allowed


def test_repository_limit_on_enable_and_on_runs_after_a_downgrade() -> None:
    workspace = workspace_on("pro")
    repos = [make_repository(workspace) for _ in range(4)]
    assert services.check_repository_enable_allowed(workspace_id=workspace.pk).allowed
    services.change_plan(workspace_id=workspace.pk, plan="free")  # free: 3 repositories
    decision = services.check_repository_enable_allowed(workspace_id=workspace.pk)
    assert (decision.allowed, decision.reason) == (False, "repository_limit")
    # The three oldest keep being reviewed; the fourth is beyond the limit.
    assert services.reserve_review_run(workspace_id=workspace.pk, repository_id=repos[0].pk, run_key="review_run:r0").allowed
    beyond = services.reserve_review_run(workspace_id=workspace.pk, repository_id=repos[3].pk, run_key="review_run:r3")
    assert (beyond.allowed, beyond.reason) == (False, "repository_limit")


def test_seat_limit() -> None:
    workspace = workspace_on("free")  # 2 seats, the owner holds one
    assert services.check_seat_allowed(workspace_id=workspace.pk).allowed
    add_member(workspace)
    assert services.check_seat_allowed(workspace_id=workspace.pk).reason == "seat_limit"


def test_paid_plan_requested_at_creation_is_granted_to_operators_only() -> None:
    from billing.models import Subscription
    from tests.workspaces.factories import make_user, make_workspace

    customer = make_workspace(make_user("customer"), plan="enterprise")
    assert Subscription.objects.get(workspace=customer).plan == "free"
    staff = make_workspace(make_user("operator", is_staff=True), plan="team")
    assert Subscription.objects.get(workspace=staff).plan == "team"
