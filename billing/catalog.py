"""Mirror the code's plan catalog into `PlanVersion` rows so the admin can show it."""

from __future__ import annotations

from typing import Any

from billing import plans


def sync_plan_catalog(sender: Any = None, *, using: str = "default", **kwargs: Any) -> int:
    """Upsert one row per declared plan version (idempotent; runs after every migrate)."""
    from billing.models import PlanVersion

    count = 0
    for plan in plans.all_versions():
        latest = plans.latest(plan.name).version == plan.version
        PlanVersion.objects.using(using).update_or_create(
            name=plan.name,
            version=plan.version,
            defaults={"title": plan.title, "limits": plan.limits(), "is_latest": latest},
        )
        count += 1
    return count
