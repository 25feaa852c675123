from __future__ import annotations

from django.db import models

from workspaces.models import Workspace


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
