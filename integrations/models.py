from __future__ import annotations

from django.conf import settings
from django.db import models

from workspaces.models import Workspace
from workspaces.tenancy import WorkspaceScopedQuerySet


class SourceProvider(models.TextChoices):
    GITHUB = "github", "GitHub"
    LOCAL_GIT = "local_git", "Local git"


class Installation(models.Model):
    """A GitHub App installation on an account (user or organisation)."""

    github_installation_id = models.BigIntegerField(unique=True)
    account_login = models.CharField(max_length=255)
    account_type = models.CharField(max_length=32, blank=True)  # User | Organization
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="installations")
    permissions = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
