"""One error body for the whole API (`REST_FRAMEWORK["EXCEPTION_HANDLER"]`).

    {"error": {"code": "invalid", "message": "...", "fields": {"name": ["This field is required."]},
               "request_id": "<correlation id>"}}

Other entry points (sentinel/errors.py, webhooks) build the same shape with `error_body`.
`fields` appears for field-level validation errors; `extra` for other detail an
`ApplicationError` carries. DRF's own exceptions (401, 403, 404, 405, 415, 429 ...) keep their
status and headers (`WWW-Authenticate`, `Retry-After`) and get the same body shape.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from sentinel.correlation import get_correlation_id
from workspaces.exceptions import ApplicationError

log = structlog.get_logger(__name__)


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain strings/lists/dicts."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def error_body(code: str, message: str, *, fields: dict | None = None, extra: dict | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    if extra:
        error["extra"] = extra
    request_id = get_correlation_id()
    if request_id:
        error["request_id"] = request_id
    return {"error": error}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, fields=exc.fields, extra=exc.extra), status=exc.status_code)

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        return None  # a real defect: Django's 500 handling and error logging take over

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()

    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        return Response(
            error_body("invalid", "The request is invalid.", fields=detail),
            status=status.HTTP_400_BAD_REQUEST,
            headers=headers,
        )

    detail = _flatten(exc.detail)
    message = detail if isinstance(detail, str) else "The request could not be processed."
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    extra = None if isinstance(detail, str) else {"detail": detail}
    return Response(error_body(code, message, extra=extra), status=exc.status_code, headers=headers)
