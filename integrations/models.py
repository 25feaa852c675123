from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from workspaces.models import Workspace
from workspaces.tenancy import WorkspaceScopedManager, WorkspaceScopedQuerySet


class SourceProvider(models.TextChoices):
    GITHUB = "github", "GitHub"
    LOCAL_GIT = "local_git", "Local git"


class Installation(models.Model):
    """A GitHub App installation on an account (user or organisation)."""

    github_installation_id = models.BigIntegerField(unique=True)
    account_login = models.CharField(max_length=255)
    account_type = models.CharField(max_length=32, blank=True)  # User | Organization
    # GitHub's numeric account id: stable across renames, so a reinstall finds its old workspace.
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # "all" or "selected" (which repositories the installation may see).
    repository_selection = models.CharField(max_length=16, blank=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="installations")
    permissions = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Last successful full synchronisation against GitHub's API (the hourly sync).
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["account_login"]

    def __str__(self) -> str:
        return f"{self.account_login} ({self.github_installation_id})"

    @property
    def is_active(self) -> bool:
        return self.suspended_at is None and self.deleted_at is None


class Repository(models.Model):
    """A repository Sentinel can review, on GitHub or on local disk."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="repositories")
    provider = models.CharField(max_length=20, choices=SourceProvider.choices, default=SourceProvider.GITHUB)
    installation = models.ForeignKey(
        Installation, on_delete=models.SET_NULL, null=True, blank=True, related_name="repositories"
    )
    # The host's id (GitHub repository id); empty for local repositories.
    provider_id = models.CharField(max_length=64, blank=True)
    full_name = models.CharField(max_length=255)
    default_branch = models.CharField(max_length=255, default="main")
    private = models.BooleanField(default=True)
    # Automatic review on pull-request events.
    enabled = models.BooleanField(default=True)
    # Dashboard review settings: second in the policy precedence after the repository's config file.
    review_settings = models.JSONField(default=dict, blank=True)
    # For the local-git provider: the repository's path on disk.
    local_path = models.CharField(max_length=1024, blank=True)
    # Set when the installation lost access (removed from the installation, or uninstalled); the
    # row stays for its review history.
    removed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        verbose_name_plural = "repositories"
        ordering = ["full_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_id"],
                condition=~models.Q(provider_id=""),
                name="repository_unique_provider_id",
            ),
            models.UniqueConstraint(fields=["workspace", "provider", "full_name"], name="repository_unique_name"),
        ]

    def __str__(self) -> str:
        return self.full_name


# --- AI provider keys (BYOK) ----------------------------------------------------------------------
class AIProvider(models.TextChoices):
    OPENAI = "openai", "OpenAI (or OpenAI-compatible)"
    ANTHROPIC = "anthropic", "Anthropic"


class ProviderKeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    # The provider rejected it (401/403): not used until it is tested again successfully.
    INVALID = "invalid", "Invalid"


class ProviderKeyQuerySet(WorkspaceScopedQuerySet):
    def active(self) -> ProviderKeyQuerySet:
        return self.filter(status=ProviderKeyStatus.ACTIVE)


class ProviderKey(models.Model):
    """A workspace's own AI provider key (BYOK), encrypted at rest.

    The secret is only ever in `encrypted_secret` (Fernet, `integrations.crypto`) and `last4`;
    it is never returned by the API, shown in the admin, logged or put in a job payload. Write
    through `integrations.services` (`provider_key_create`, `provider_key_delete`, ...).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="provider_keys")
    provider = models.CharField(max_length=20, choices=AIProvider.choices)
    label = models.CharField(max_length=100)
    # For OpenAI-compatible servers (Ollama, vLLM, Azure, a proxy); empty = the provider's own API.
    base_url = models.URLField(max_length=500, blank=True)
    # Used when the policy does not name a model; empty = the catalog default.
    default_model = models.CharField(max_length=100, blank=True)
    encrypted_secret = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    status = models.CharField(max_length=16, choices=ProviderKeyStatus.choices, default=ProviderKeyStatus.ACTIVE)
    # Secret-free description of the last failure (scrubbed provider message).
    last_error = models.CharField(max_length=500, blank=True)
    last_validated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = models.Manager.from_queryset(ProviderKeyQuerySet)()

    class Meta:
        ordering = ["provider", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "provider", "label"], name="provider_key_unique_label"),
        ]
        indexes = [models.Index(fields=["workspace", "provider", "status"], name="provider_key_lookup")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} · {self.label} ({self.masked})"

    def __repr__(self) -> str:  # never the secret, even in a debugger or a traceback
        return f"<ProviderKey id={self.pk} workspace={self.workspace_id} provider={self.provider} {self.masked}>"

    @property
    def masked(self) -> str:
        return f"…{self.last4}" if self.last4 else "…"

    def reveal(self) -> str:
        """The plaintext secret, for the provider call only. Never log or return it."""
        from integrations import crypto

        return crypto.decrypt(self.encrypted_secret)

class PausedPullRequest(models.Model):
    """A pull request on which `@sentinel pause` stopped automatic reviews (until `resume`)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="paused_pull_requests")
    pr_number = models.PositiveIntegerField()
    paused_by_login = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "pr_number"], name="paused_pull_request_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.repository_id}#{self.pr_number}"


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class WebhookDeliveryQuerySet(WorkspaceScopedQuerySet):
    def stranded(self, *, older_than: datetime) -> WebhookDeliveryQuerySet:
        """Deliveries stored but never processed (their job was lost), received before `older_than`."""
        return self.filter(status=DeliveryStatus.RECEIVED, received_at__lt=older_than)


class WebhookDelivery(models.Model):
    """One webhook delivery as received (append-only apart from its processing outcome).

    `delivery_id` (GitHub's `X-GitHub-Delivery`) is unique: a redelivery is recognised by the
    database, not by memory. The workspace is filled in by routing once the installation or
    repository is known; deliveries nobody could place stay without one (operators only).
    """

    provider = models.CharField(max_length=20, choices=SourceProvider.choices, default=SourceProvider.GITHUB)
    # Unique through Meta.constraints rather than `unique=True`: the field option would also build
    # a second (varchar_pattern_ops) index for LIKE lookups that nothing makes, paid on every INSERT.
    delivery_id = models.CharField(max_length=128)
    event = models.CharField(max_length=64)
    action = models.CharField(max_length=64, blank=True)
    hook_id = models.CharField(max_length=64, blank=True)
    installation_id = models.BigIntegerField(null=True, blank=True)  # GitHub's id
    # Filled in by routing. Their indexes are partial (non-null only, see Meta), so the intake's
    # INSERT, where both are still NULL, maintains no index for them.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries", db_index=False
    )
    repository = models.ForeignKey(
        Repository, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries", db_index=False
    )
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED)
    reason = models.TextField(blank=True)
    payload = models.JSONField(null=True, blank=True)
    # For rejected deliveries (body that is not JSON): the first bytes, for the operator to look at.
    body_excerpt = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Equal to delivery_id: one id from GitHub's delivery log to every job it causes.
    correlation_id = models.CharField(max_length=128, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        # The id grows with arrival: newest first through the primary key, no extra index to keep.
        ordering = ["-id"]
        # Every index here is paid on each intake INSERT (the hot path, measured in bench/), so:
        # the stranded-delivery sweep's index covers only rows still `received`, and the tenant
        # indexes only rows routing has placed.
        indexes = [
            models.Index(
                fields=["received_at"], name="delivery_received_pending", condition=models.Q(status="received")
            ),
            models.Index(
                fields=["workspace", "-id"], name="delivery_workspace", condition=models.Q(workspace__isnull=False)
            ),
            models.Index(fields=["repository"], name="delivery_repository", condition=models.Q(repository__isnull=False)),
        ]
        constraints = [models.UniqueConstraint(fields=["delivery_id"], name="delivery_id_unique")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event}.{self.action or '-'} {self.delivery_id}"


class CommandStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


class CommandRun(models.Model):
    """One `@sentinel <command>` comment, keyed by the comment (a redelivery does nothing).

    Lives in integrations because the command arrives, is authorised and is answered on the
    source-control host; a `review` command hands over to reviews.services.request_review.
    """

    TERMINAL = (CommandStatus.COMPLETED, CommandStatus.DENIED, CommandStatus.FAILED)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="command_runs")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="command_runs")
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="command_runs"
    )
    # "github:comment:<comment id>": unique per workspace.
    external_reference = models.CharField(max_length=128)
    pr_number = models.PositiveIntegerField()
    comment_id = models.BigIntegerField()
    command = models.CharField(max_length=32)
    arguments = models.TextField(blank=True)
    author_login = models.CharField(max_length=255)
    author_association = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=CommandStatus.choices, default=CommandStatus.QUEUED)
    reason = models.TextField(blank=True)
    response_comment_id = models.CharField(max_length=64, blank=True)
    # The review a `review` command started (reviews.ReviewRun id; no FK across apps' migrations).
    review_run_id = models.BigIntegerField(null=True, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "external_reference"], name="command_run_unique_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.command} on #{self.pr_number} ({self.external_reference})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
