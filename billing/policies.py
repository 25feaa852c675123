"""Plan rules: given a plan (and a few counts), allow or deny with a machine-readable reason.

Reasons are stable strings other apps and the API rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.plans import BYOK_REQUIRED, Plan


@dataclass(frozen=True)
class Decision:
    """The answer of every limit check: allowed, or denied with a machine reason and a human message.

    Other apps import it as `billing.services.Decision`.
    """

    allowed: bool
    reason: str | None
    message: str

    @classmethod
    def allow(cls, message: str = "Allowed.") -> Decision:
        return cls(True, None, message)

    @classmethod
    def deny(cls, reason: str, message: str) -> Decision:
        return cls(False, reason, message)

QUOTA_EXHAUSTED = "quota_exhausted"
REPOSITORY_LIMIT = "repository_limit"
SEAT_LIMIT = "seat_limit"
PLAN_INACTIVE = "plan_inactive"
SPEND_CAP_REACHED = "spend_cap_reached"
PROVIDER_NOT_ALLOWED = "provider_not_allowed"
MODEL_NOT_ALLOWED = "model_not_allowed"
BYOK_REQUIRED_REASON = "byok_required"
REASONS = (
    QUOTA_EXHAUSTED,
    REPOSITORY_LIMIT,
    SEAT_LIMIT,
    PLAN_INACTIVE,
    SPEND_CAP_REACHED,
    PROVIDER_NOT_ALLOWED,
    MODEL_NOT_ALLOWED,
    BYOK_REQUIRED_REASON,
)


def ai_decision(plan: Plan, *, provider: str, model: str, byok: bool) -> Decision:
    """The plan's provider, model and BYOK rules (the spend cap is checked by the service)."""
    if provider not in plan.ai_providers:
        return Decision.deny(
            PROVIDER_NOT_ALLOWED,
            f"The {plan.title or plan.name} plan does not allow the {provider!r} AI provider "
            f"(allowed: {', '.join(plan.ai_providers)}).",
        )
    if plan.ai_models and model not in plan.ai_models:
        return Decision.deny(
            MODEL_NOT_ALLOWED,
            f"The {plan.title or plan.name} plan does not allow the model {model!r} (allowed: {', '.join(plan.ai_models)}).",
        )
    if provider != "offline" and not byok and plan.byok == BYOK_REQUIRED:
        return Decision.deny(
            BYOK_REQUIRED_REASON,
            f"The {plan.title or plan.name} plan reviews with your own {provider} key only; add one in the "
            "workspace's provider keys.",
        )
    return Decision.allow()


def _enabled_repository_ids(workspace_id: int, limit: int) -> list[int]:
    from integrations.models import Repository

    return list(
        Repository.objects.filter(workspace_id=workspace_id, enabled=True)
        .order_by("created_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def repository_decision(plan: Plan, *, workspace_id: int, repository_id: int | None) -> Decision:
    """A run on a repository beyond the plan's repository count is refused (e.g. after a downgrade
    the oldest `repositories` enabled repositories keep being reviewed)."""
    if plan.repositories is None or repository_id is None:
        return Decision.allow()
    if repository_id in _enabled_repository_ids(workspace_id, plan.repositories):
        return Decision.allow()
    from integrations.models import Repository

    if not Repository.objects.filter(pk=repository_id, workspace_id=workspace_id, enabled=True).exists():
        return Decision.allow()  # disabled or gone: the reviews flow decides; not a plan matter
    return Decision.deny(
        REPOSITORY_LIMIT,
        f"The {plan.title or plan.name} plan reviews {plan.repositories} repositories; this one is beyond the "
        "limit. Disable another repository or upgrade the plan.",
    )


def repository_enable_decision(plan: Plan, *, workspace_id: int) -> Decision:
    if plan.repositories is None:
        return Decision.allow()
    from integrations.models import Repository

    enabled = Repository.objects.filter(workspace_id=workspace_id, enabled=True).count()
    if enabled < plan.repositories:
        return Decision.allow(f"{plan.repositories - enabled} more repositories may be enabled.")
    return Decision.deny(
        REPOSITORY_LIMIT,
        f"The {plan.title or plan.name} plan allows {plan.repositories} enabled repositories "
        f"({enabled} enabled). Disable one or upgrade the plan.",
    )


def seat_decision(plan: Plan, *, workspace_id: int) -> Decision:
    if plan.seats is None:
        return Decision.allow()
    from workspaces.models import Membership

    members = Membership.objects.for_workspace(workspace_id).count()
    if members < plan.seats:
        return Decision.allow()
    return Decision.deny(
        SEAT_LIMIT,
        f"The {plan.title or plan.name} plan has {plan.seats} seats and all are taken. Upgrade to add members.",
    )
