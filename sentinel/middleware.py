from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from sentinel.correlation import clean_correlation_id

REQUEST_ID_HEADER = "X-Request-ID"
logger = structlog.get_logger("sentinel.http")


class CorrelationIdMiddleware:
    """Take `X-Request-ID` (or make a UUID), bind it to every log line and echo it back.

    It also writes the one access-log line per request (`http.request`), inside the bound context.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = clean_correlation_id(request.headers.get(REQUEST_ID_HEADER))
        request.correlation_id = correlation_id  # type: ignore[attr-defined]  # read by views and services
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            # A view may adopt a better id (the webhook intake uses GitHub's delivery id).
            response[REQUEST_ID_HEADER] = getattr(request, "correlation_id", correlation_id)
            logger.info(
                "http.request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            return response
        finally:
            structlog.contextvars.clear_contextvars()
