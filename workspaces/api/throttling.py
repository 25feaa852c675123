"""Per-token / per-user / per-address throttling on DRF's SimpleRateThrottle (Redis-backed cache).

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (env `API_THROTTLE_RATE_TOKEN`,
`API_THROTTLE_RATE_USER`, `API_THROTTLE_RATE_ANON`) and are read per request, so
`override_settings` and a settings reload take effect without a restart of the class.
DRF answers 429 with `Retry-After` when a rate is exceeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from workspaces.models import ApiToken

if TYPE_CHECKING:  # runtime imports would be circular (DRF settings import these modules)
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ApiRateThrottle(SimpleRateThrottle):
    """One bucket per API token, else per user, else per client address."""

    def __init__(self) -> None:
        # SimpleRateThrottle resolves its rate in __init__; ours depends on the request.
        self.scope = "anon"
        self.rate = None

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: APIView) -> bool:
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiToken):
            self.scope = "token"
        elif request.user and request.user.is_authenticated:
            self.scope = "user"
        else:
            self.scope = "anon"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiToken):
            ident = f"t{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"a{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"
