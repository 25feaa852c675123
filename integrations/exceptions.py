"""Errors of the integrations domain (rendered by workspaces.api.errors)."""

from __future__ import annotations

from workspaces.exceptions import ApplicationError


class RepositoryLimitReached(ApplicationError):
    status_code = 402
    code = "repository_limit"
    message = "The plan's repository limit is reached."


class RepositoryUnavailable(ApplicationError):
    status_code = 409
    code = "repository_unavailable"
    message = "The repository is no longer accessible to the GitHub App."
