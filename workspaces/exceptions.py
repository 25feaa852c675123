"""Errors the domains raise. `workspaces.api.errors.exception_handler` renders them as API bodies.

Every app raises `ApplicationError` subclasses (or DRF's own exceptions) from services and
policies; views never build error responses by hand. Subclass per meaning, not per call site:

    class QuotaExceeded(ApplicationError):
        status_code = 402
        code = "quota_exceeded"
        message = "The plan's monthly review quota is used up."
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A domain error with an HTTP status, a stable machine code and a human message.

    `fields` carries field-level messages (`{"email": ["..."]}`) and `extra` any other
    non-secret detail; both end up in the error body.
    """

    status_code: int = 400
    code: str = "invalid"
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    status_code = 400
    code = "invalid"


class Forbidden(ApplicationError):
    status_code = 403
    code = "permission_denied"
    message = "You do not have permission to perform this action."


class NotFoundError(ApplicationError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class TenantMismatchError(Exception):
    """A job asked for an entity of another workspace. Never retried: it is a defect or an attack."""
