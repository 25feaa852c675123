"""Daily repair work (billing's part of the reconciler cron).

- Usage rollups: `UsageTotal` is bumped in the same transaction as each ledger row, so it can only
  drift if someone edits the ledger by hand or a deploy changed period boundaries. For every
  (workspace, period) with ledger rows in the last `days`, lock its total rows, re-sum the ledger
  and fix differences. Locking the total rows first makes a concurrent `record_usage` either
  visible to the sum or applied after the fix — never lost.

Stripe events stored but never applied (Redis lost their job) are re-queued by the job
platform's every-minute reconciler, where `BillingConfig.ready` registers them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import UsageRecord, UsageTotal

log = structlog.get_logger(__name__)


def reconcile_usage_totals(*, days: int = 40) -> int:
    """Recompute rollups of periods that started within `days` (or are still open). Returns rows fixed."""
    since = timezone.now() - timedelta(days=days)
    pairs = (
        UsageRecord.objects.filter(period_start__gte=since)
        .values_list("workspace_id", "period_start")
        .distinct()
        .order_by("workspace_id", "period_start")
    )
    fixed = 0
    for workspace_id, period_start in pairs:
        with transaction.atomic():
            current = {
                row.metric: row
                for row in UsageTotal.objects.select_for_update()
                .filter(workspace_id=workspace_id, period_start=period_start)
                .order_by("metric")
            }
            sums = dict(
                UsageRecord.objects.filter(workspace_id=workspace_id, period_start=period_start)
                .values_list("metric")
                .annotate(total=Sum("quantity"))
                .values_list("metric", "total")
            )
            for metric, total in sums.items():
                row = current.get(metric)
                if row is None:
                    # A concurrent record_usage may create it meanwhile: get_or_create, then lock it.
                    UsageTotal.objects.get_or_create(workspace_id=workspace_id, metric=metric, period_start=period_start)
                    row = UsageTotal.objects.select_for_update().get(
                        workspace_id=workspace_id, metric=metric, period_start=period_start
                    )
                    current[metric] = row
                if row.quantity != total:
                    log.warning("billing.usage_total_repaired", workspace_id=workspace_id, metric=metric,
                                period_start=period_start.isoformat(), was=row.quantity, now=total)
                    row.quantity = total
                    row.save(update_fields=["quantity", "updated_at"])
                    fixed += 1
    return fixed


def reconcile(*, days: int = 40) -> dict[str, Any]:
    return {"usage_totals_fixed": reconcile_usage_totals(days=days)}
