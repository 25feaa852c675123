"""The plan catalog, declared in code and versioned.

A plan is a frozen value: its limits, the AI it may use and the review queue its runs go to. Tiers
and default numbers come from the seed (free/pro/team/enterprise) and the original product's
foundation/illuminate/orchestrate/sanctum table (shared/reference/original-sentinel.md §1).

Versioning: a plan's limits change by adding a new `Plan` with the next `version` to `CATALOG`
(never by editing a published one). A subscription records the version it was sold at, so an
existing customer keeps the limits they bought (grandfathering) until they change plan; new
subscriptions get the latest version. `None` on a limit means unlimited. The admin shows the
catalog through `billing.models.PlanVersion`, a read-only mirror refreshed after every migrate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from queues.topology import Queue

FREE = "free"
PRO = "pro"
TEAM = "team"
ENTERPRISE = "enterprise"
PLAN_NAMES: tuple[str, ...] = (FREE, PRO, TEAM, ENTERPRISE)
# Tier rank: a higher rank is an upgrade.
RANK = {FREE: 1, PRO: 2, TEAM: 3, ENTERPRISE: 4}

BYOK_OPTIONAL = "optional"
BYOK_REQUIRED = "required"
# The AI providers a plan may list; "offline" is the rule-based engine (no network, no cost).
PROVIDERS = ("offline", "openai", "anthropic")

USD = 1_000_000  # micro-USD per dollar


@dataclass(frozen=True)
class Plan:
    name: str
    version: int
    review_runs_per_month: int | None
    repositories: int | None
    seats: int | None
    briefings_per_month: int | None
    commands_per_month: int | None
    max_concurrent_reviews: int | None
    max_diff_lines: int | None
    # "required": only the workspace's own provider keys may be used for paid providers;
    # "optional": Sentinel's platform keys are allowed too (up to `ai_spend_cap_microusd`).
    byok: str
    ai_providers: tuple[str, ...]
    ai_models: tuple[str, ...]  # empty = any model of an allowed provider
    ai_spend_cap_microusd: int | None  # monthly cap on spend through Sentinel's platform keys
    review_queue: Queue
    # Presentation only (admin, API); never used for enforcement.
    title: str = ""
    price_monthly_cents: int = 0
    features: tuple[str, ...] = field(default=())

    @property
    def is_free(self) -> bool:
        return self.name == FREE

    @property
    def rank(self) -> int:
        return RANK[self.name]

    def limits(self) -> dict[str, Any]:
        """The limits as plain JSON (API, admin mirror)."""
        data = asdict(self)
        data["review_queue"] = self.review_queue.queue_name
        data["ai_providers"] = list(self.ai_providers)
        data["ai_models"] = list(self.ai_models)
        data["features"] = list(self.features)
        return data


CATALOG: dict[str, tuple[Plan, ...]] = {
    FREE: (
        Plan(
            name=FREE,
            version=1,
            title="Free",
            price_monthly_cents=0,
            review_runs_per_month=20,
            repositories=3,
            seats=2,
            briefings_per_month=10,
            commands_per_month=50,
            max_concurrent_reviews=1,
            max_diff_lines=2_000,
            byok=BYOK_REQUIRED,
            ai_providers=PROVIDERS,
            ai_models=(),
            ai_spend_cap_microusd=0,
            review_queue=Queue.REVIEWS_DEFAULT,
            features=("briefings",),
        ),
    ),
    PRO: (
        Plan(
            name=PRO,
            version=1,
            title="Pro",
            price_monthly_cents=2_000,
            review_runs_per_month=500,
            repositories=20,
            seats=5,
            briefings_per_month=100,
            commands_per_month=200,
            max_concurrent_reviews=3,
            max_diff_lines=10_000,
            byok=BYOK_OPTIONAL,
            ai_providers=PROVIDERS,
            ai_models=(),
            ai_spend_cap_microusd=20 * USD,
            review_queue=Queue.REVIEWS_PAID,
            features=("briefings", "custom_guidelines", "priority_queue"),
        ),
    ),
    TEAM: (
        Plan(
            name=TEAM,
            version=1,
            title="Team",
            price_monthly_cents=5_000,
            review_runs_per_month=2_000,
            repositories=100,
            seats=None,
            briefings_per_month=None,
            commands_per_month=1_000,
            max_concurrent_reviews=6,
            max_diff_lines=20_000,
            byok=BYOK_OPTIONAL,
            ai_providers=PROVIDERS,
            ai_models=(),
            ai_spend_cap_microusd=100 * USD,
            review_queue=Queue.REVIEWS_PAID,
            features=("briefings", "custom_guidelines", "priority_queue", "api_access"),
        ),
    ),
    ENTERPRISE: (
        Plan(
            name=ENTERPRISE,
            version=1,
            title="Enterprise",
            price_monthly_cents=20_000,
            review_runs_per_month=None,
            repositories=None,
            seats=None,
            briefings_per_month=None,
            commands_per_month=None,
            max_concurrent_reviews=20,
            max_diff_lines=None,
            byok=BYOK_OPTIONAL,
            ai_providers=PROVIDERS,
            ai_models=(),
            ai_spend_cap_microusd=None,
            review_queue=Queue.REVIEWS_ENTERPRISE,
            features=("briefings", "custom_guidelines", "priority_queue", "api_access", "sso", "audit_logs"),
        ),
    ),
}


class UnknownPlan(LookupError):
    pass


def latest(name: str) -> Plan:
    """The current version of plan `name` (what new subscriptions get)."""
    try:
        return CATALOG[name][-1]
    except KeyError:
        raise UnknownPlan(name) from None


def get(name: str, version: int | None = None) -> Plan:
    """Plan `name` at `version`; the latest version when `version` is None or no longer declared."""
    versions = CATALOG.get(name)
    if not versions:
        raise UnknownPlan(name)
    if version is not None:
        for plan in versions:
            if plan.version == version:
                return plan
    return versions[-1]


def all_versions() -> list[Plan]:
    return [plan for name in PLAN_NAMES for plan in CATALOG[name]]


def free() -> Plan:
    return latest(FREE)
