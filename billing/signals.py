"""Billing domain events, sent after the writing transaction commits.

- `usage_recorded`: `record` (the new `billing.models.UsageRecord`; never sent for a duplicate).
- `subscription_changed`: `subscription`, `previous_plan` (str or None), `previous_status`.
- `quota_exhausted`: `workspace_id`, `metric` (e.g. "review_run"), `limit`, `period_start`.
"""

from django.dispatch import Signal

usage_recorded = Signal()
subscription_changed = Signal()
quota_exhausted = Signal()
