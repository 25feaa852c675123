"""Review runs and what they produce.

A `ReviewRun` moves `queued -> running -> completed | failed | cancelled`, or ends `skipped` (with
a reason) from queued or running. Every change of `status` goes through `reviews.state` (a
conditional UPDATE), never through `.save()`: that is what stops two workers from both running
one run.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from workspaces.tenancy import WorkspaceScopedManager, WorkspaceScopedQuerySet


class Trigger(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    COMMAND = "command", "Comment command"
    API = "api", "API"
    MANUAL = "manual", "Manual"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
TERMINAL_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED)


class SkipReason(models.TextChoices):
    QUOTA = "quota", "Plan limit reached"
    POLICY = "policy", "Excluded by the review policy"
    DRAFT = "draft", "Draft pull request"
    NO_REVIEWABLE_FILES = "no_reviewable_files", "No reviewable files"
    SUPERSEDED = "superseded", "Superseded by a newer push"
    NO_PROVIDER = "no_provider", "No eligible AI provider"


class ReviewMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class ReviewRunQuerySet(WorkspaceScopedQuerySet):
    def active(self) -> ReviewRunQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def for_pull_request(self, *, repository_id: int, pr_number: int) -> ReviewRunQuerySet:
        return self.filter(repository_id=repository_id, pr_number=pr_number)


class ReviewRun(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="review_runs")
    repository = models.ForeignKey("integrations.Repository", on_delete=models.CASCADE, related_name="review_runs")
    pr_number = models.PositiveIntegerField()
    base_sha = models.CharField(max_length=64)
    head_sha = models.CharField(max_length=64)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    # Distinguishes deliberate repeat reviews of one head SHA (a comment command's id, a re-run).
    trigger_key = models.CharField(max_length=120, blank=True, default="")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    skip_reason = models.CharField(max_length=32, choices=SkipReason.choices, blank=True, default="")
    skip_message = models.TextField(blank=True, default="")
    # The tier queue the run was dispatched to (billing.selectors.review_queue_for).
    queue = models.CharField(max_length=64, blank=True, default="")
    provider = models.CharField(max_length=32, blank=True, default="")
    model = models.CharField(max_length=120, blank=True, default="")
    byok = models.BooleanField(default=False)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_microusd = models.BigIntegerField(default=0)
    coverage = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_step = models.CharField(max_length=64, blank=True, default="")
    # What was reviewed: the whole PR, or only the commits since the last completed run.
    review_mode = models.CharField(max_length=16, choices=ReviewMode.choices, blank=True, default="")
    # Base of the reviewed diff (the PR base for a full review, the previous head for an incremental one).
    diff_base_sha = models.CharField(max_length=64, blank=True, default="")
    # Set by rerun: review everything again, even if an earlier run covered part of it.
    force_full = models.BooleanField(default=False)
    # The resolved policy (reviews.policy) and its version hash, frozen when the run executes.
    policy_snapshot = models.JSONField(default=dict, blank=True)
    policy_version = models.CharField(max_length=64, blank=True, default="")
    # Problems with the repository's config file (invalid, unknown keys), shown on the PR.
    config_errors = models.JSONField(default=list, blank=True)
    # The pull request as the trigger saw it (integrations.source_control.PullRequestInfo fields).
    pull_request = models.JSONField(default=dict, blank=True)
    # How many times a worker took the run (claims and resumes after a crashed worker).
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    # One run per repository + PR + head SHA + trigger key (also enforced by the constraint below).
    idempotency_key = models.CharField(max_length=255, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who asked (an operator, `api:<user>`, `cli`) and who cancelled, for the audit trail.
    requested_by_actor = models.CharField(max_length=200, blank=True, default="")
    cancelled_by = models.CharField(max_length=200, blank=True, default="")
    rerun_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns")
    superseded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="superseded_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReviewRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "pr_number", "head_sha", "trigger_key"], name="review_run_unique_trigger"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="review_run_ws_created"),
            models.Index(fields=["repository", "pr_number", "-created_at"], name="review_run_pr"),
            models.Index(fields=["status", "queued_at"], name="review_run_status_queued"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.repository_id}#{self.pr_number}@{self.head_sha[:7]} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def job_id(self) -> str:
        return f"review-run-{self.pk}"

    @property
    def release_job_id(self) -> str:
        return f"review-run-release-{self.pk}"

    @property
    def annotations_job_id(self) -> str:
        return f"review-annotations-{self.pk}"

    @property
    def billing_run_key(self) -> str:
        """The key billing reserves and releases this run's quota under."""
        return f"review_run:{self.pk}"


class ReviewResult(models.Model):
    """The outcome of a completed run: the engine's summary and the counts by severity."""

    run = models.OneToOneField(ReviewRun, on_delete=models.CASCADE, related_name="result")
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    summary = models.TextField(blank=True, default="")
    risk_level = models.CharField(max_length=16, blank=True, default="")
    findings_count = models.PositiveIntegerField(default=0)
    counts_by_severity = models.JSONField(default=dict, blank=True)
    # Per-file-group walkthrough of what changed (shown in the summary comment).
    walkthrough = models.JSONField(default=list, blank=True)
    # Findings the engine reported that repeat one already reported on this PR (not stored again).
    repeated_findings = models.PositiveIntegerField(default=0)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedManager()

    def __str__(self) -> str:
        return f"result of run {self.run_id}"


class Finding(models.Model):
    run = models.ForeignKey(ReviewRun, on_delete=models.CASCADE, related_name="findings")
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=1024)
    start_line = models.PositiveIntegerField(null=True, blank=True)
    end_line = models.PositiveIntegerField(null=True, blank=True)
    severity = models.CharField(max_length=16, db_index=True)
    category = models.CharField(max_length=32, db_index=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    suggestion = models.TextField(blank=True, default="")
    confidence = models.FloatField(default=1.0)
    # Stable across pushes for the same problem: a repeat on the same PR is not reported again.
    fingerprint = models.CharField(max_length=128, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "fingerprint"], name="finding_unique_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.path}:{self.start_line} {self.title}"


class AnnotationKind(models.TextChoices):
    REVIEW = "review", "Review (summary + inline comments)"
    INLINE = "inline", "Inline comment"
    SUMMARY = "summary", "Summary comment"
    FINDINGS_COMMENT = "findings_comment", "Findings comment"
    STATUS = "status", "Check / status"


class AnnotationState(models.TextChoices):
    # Intent recorded before the call: a crash between here and "posted" is resolved by the marker.
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    # Inline comment the host refused (line outside the diff); the finding is in the summary instead.
    REJECTED = "rejected", "Rejected"
    # Not posted by policy (below post_threshold, over max_findings, already posted on this PR).
    SUPPRESSED = "suppressed", "Suppressed"


class Annotation(models.Model):
    """One thing posted (or meant to be posted) to the pull request for a run."""

    run = models.ForeignKey(ReviewRun, on_delete=models.CASCADE, related_name="annotations")
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey(
        Finding, on_delete=models.CASCADE, null=True, blank=True, related_name="annotations"
    )
    kind = models.CharField(max_length=20, choices=AnnotationKind.choices)
    state = models.CharField(max_length=16, choices=AnnotationState.choices, default=AnnotationState.PENDING)
    # The hidden marker carried by the posted body: how a retry finds what it already posted.
    marker = models.CharField(max_length=200, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="")
    url = models.URLField(max_length=500, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "kind"], condition=models.Q(finding__isnull=True), name="annotation_unique_run_kind"
            ),
            models.UniqueConstraint(
                fields=["run", "finding", "kind"],
                condition=models.Q(finding__isnull=False),
                name="annotation_unique_finding_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of run {self.run_id} ({self.state})"
