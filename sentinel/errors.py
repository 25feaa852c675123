"""Site-wide 404/500 views: API clients get the API's JSON error body, people get Django's pages.

DRF's exception handler covers errors raised inside API views; these cover what never reaches a
view (an unknown `/api/...` or `/webhooks/...` URL) and a crash outside DRF's handling.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from workspaces.api.errors import error_body

JSON_PREFIXES = ("/api/", "/webhooks/")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "Internal server error; quote the request id."), status=500
        )
    return defaults.server_error(request)
