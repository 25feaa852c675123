"""Analytics: the append-only activity log (`Event`) and the rollups derived from it.

- `Event` rows are written only by the ingestion service, called by ingestion jobs that the
  receivers of the other apps' domain signals dispatch (analytics/receivers.py). A row is never
  updated; only the retention clean-up and a workspace's own deletion remove rows.
- `Rollup` rows are derived data: one row per (workspace, repository or none, granularity,
  bucket), recomputed from events by SQL aggregation (analytics/rollups.py). Recomputing a bucket
  replaces its row with the same values.
- `RollupDirty` marks (workspace, day) pairs that received events since the last rollup run; the
  cron job consumes them (incremental maintenance, analytics/rollups.py).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from workspaces.tenancy import WorkspaceScopedManager, WorkspaceScopedQuerySet


class AppendOnlyError(Exception):
    """Raised on any attempt to update or delete an analytics Event through the ORM."""


class EventKind(models.TextChoices):
    RUN_CREATED = "run_created", "Run created"
    RUN_STARTED = "run_started", "Run started"
    RUN_COMPLETED = "run_completed", "Run completed"
    RUN_FAILED = "run_failed", "Run failed"
    RUN_SKIPPED = "run_skipped", "Run skipped"
    RUN_CANCELLED = "run_cancelled", "Run cancelled"
    FINDING_REPORTED = "finding_reported", "Finding reported"
    ANNOTATION_POSTED = "annotation_posted", "Annotation posted"
    BRIEFING_POSTED = "briefing_posted", "Briefing posted"
    COMMAND_EXECUTED = "command_executed", "Command executed"
    USAGE_RECORDED = "usage_recorded", "Usage recorded"
    SUBSCRIPTION_CHANGED = "subscription_changed", "Subscription changed"
    QUOTA_EXHAUSTED = "quota_exhausted", "Quota exhausted"
    REPOSITORY_ENABLED = "repository_enabled", "Repository enabled"
    REPOSITORY_DISABLED = "repository_disabled", "Repository disabled"
    INSTALLATION_CHANGED = "installation_changed", "Installation changed"
    PROVIDER_KEY_INVALIDATED = "provider_key_invalidated", "Provider key invalidated"


class EventQuerySet(WorkspaceScopedQuerySet):
    """Tenant-scoped, and refuses bulk updates and deletes: events are history."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("analytics events are append-only: they are never updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(
            "analytics events are append-only: only the retention clean-up "
            "(analytics.services.purge_expired_events) removes them"
        )

    # Django's QuerySet.delete() is flagged so templates never call it; keep the same flags.
    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]
    update.alters_data = True  # type: ignore[attr-defined]


class EventManager(models.Manager.from_queryset(EventQuerySet)):  # type: ignore[misc]  # dynamic base class
    pass


class Event(models.Model):
    """One thing that happened in a workspace, recorded once (unique `idempotency_key`)."""

    id = models.BigAutoField(primary_key=True)
    # db_index=False: the (workspace, occurred_at) index serves every lookup by workspace; fewer
    # indexes keep ingestion cheap.
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # History outlives the repository row: no database constraint, no cascade, the id stays.
    repository = models.ForeignKey(
        "integrations.Repository",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    # Who caused it: "user:<id>", "github:<login>", "system", or empty.
    actor = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    # The measures and dimensions of this kind (see analytics/receivers.py); never secrets.
    data = models.JSONField(default=dict, blank=True)
    # `<kind>:<domain id>...`: a re-delivered domain event maps to the same key and is ignored.
    idempotency_key = models.CharField(max_length=200, unique=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    objects = EventManager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "occurred_at"], name="analytics_event_ws_time"),
            # The retention clean-up deletes by age across workspaces.
            models.Index(fields=["occurred_at"], name="analytics_event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M:%S} ({self.idempotency_key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("analytics events are append-only: they are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("analytics events are append-only: they are never deleted one by one")


class Granularity(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"
    WEEK = "week", "Week (ISO, Monday)"
    MONTH = "month", "Month"


class Rollup(models.Model):
    """Aggregates of one bucket (UTC) for a workspace (`repository` null) or one of its repositories.

    Counts and sums are exact for any range (sum the rows); the percentiles are exact for their
    own bucket only, which is why week and month buckets are rolled up too instead of merged.
    """

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes: the unique constraints and the bucket index lead with workspace.
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    repository = models.ForeignKey(
        "integrations.Repository",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    granularity = models.CharField(max_length=8, choices=Granularity.choices)
    bucket_start = models.DateTimeField()

    events_total = models.BigIntegerField(default=0)
    runs_created = models.BigIntegerField(default=0)
    runs_started = models.BigIntegerField(default=0)
    runs_completed = models.BigIntegerField(default=0)
    runs_failed = models.BigIntegerField(default=0)
    runs_skipped = models.BigIntegerField(default=0)
    runs_cancelled = models.BigIntegerField(default=0)
    findings_total = models.BigIntegerField(default=0)
    findings_by_severity = models.JSONField(default=dict, blank=True)
    findings_by_category = models.JSONField(default=dict, blank=True)
    # Review duration (started -> finished) of completed runs, milliseconds.
    duration_count = models.BigIntegerField(default=0)
    duration_sum_ms = models.BigIntegerField(default=0)
    duration_p50_ms = models.FloatField(null=True, blank=True)
    duration_p95_ms = models.FloatField(null=True, blank=True)
    # Queue wait (queued -> started) of started runs, milliseconds.
    queue_wait_count = models.BigIntegerField(default=0)
    queue_wait_sum_ms = models.BigIntegerField(default=0)
    queue_wait_p50_ms = models.FloatField(null=True, blank=True)
    queue_wait_p95_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_microusd = models.BigIntegerField(default=0)
    annotations_posted = models.BigIntegerField(default=0)
    commands_executed = models.BigIntegerField(default=0)
    briefings_posted = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField()

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["workspace", "granularity", "-bucket_start"]
        # One row per bucket and scope. Two partial constraints rather than NULLS NOT DISTINCT so
        # SQLite (`make run`) enforces them too.
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "granularity", "bucket_start"],
                condition=models.Q(repository__isnull=True),
                name="analytics_rollup_unique_ws_bucket",
            ),
            models.UniqueConstraint(
                fields=["workspace", "repository", "granularity", "bucket_start"],
                condition=models.Q(repository__isnull=False),
                name="analytics_rollup_unique_repo_bucket",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "granularity", "bucket_start"], name="analytics_rollup_ws_bucket"),
        ]

    def __str__(self) -> str:
        scope = f"repo {self.repository_id}" if self.repository_id else "workspace"
        return f"{self.granularity} {self.bucket_start:%Y-%m-%d %H:%M} {scope}"


class RollupDirty(models.Model):
    """A (workspace, UTC day) that received events the rollups have not absorbed yet."""

    id = models.BigAutoField(primary_key=True)
    workspace_id = models.BigIntegerField()
    day = models.DateField()
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "rollup awaiting recomputation"
        verbose_name_plural = "rollups awaiting recomputation"
        constraints = [models.UniqueConstraint(fields=["workspace_id", "day"], name="analytics_dirty_unique")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}"
