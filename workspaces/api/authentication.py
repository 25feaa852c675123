"""`Authorization: Bearer <token>` authentication with workspace-scoped personal API tokens."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from workspaces.models import TOKEN_PREFIX, TOKEN_PREFIX_LENGTH, ApiToken, hash_secret

if TYPE_CHECKING:  # runtime imports would be circular (DRF settings import these modules)
    from rest_framework.request import Request

# last_used_at is informational; writing it at most once a minute keeps reads free of writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_INVALID = "Invalid, expired or revoked token."


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates `Authorization: Bearer snt_...`; `request.auth` is the `ApiToken`.

    Unknown, malformed, revoked and expired tokens, and tokens of inactive users, all answer 401
    with the same message, so a caller learns nothing about which tokens exist.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_INVALID)
        try:
            presented = header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_INVALID) from None
        if not presented.startswith(TOKEN_PREFIX) or len(presented) <= TOKEN_PREFIX_LENGTH:
            raise exceptions.AuthenticationFailed(_INVALID)
        token = (
            ApiToken.objects.select_related("user", "workspace")
            .filter(prefix=presented[:TOKEN_PREFIX_LENGTH])
            .first()
        )
        # Constant-time comparison of the hashes; the prefix lookup only narrows to one row.
        if token is None or not hmac.compare_digest(token.token_hash, hash_secret(presented)):
            raise exceptions.AuthenticationFailed(_INVALID)
        now = timezone.now()
        if not token.is_active(now=now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_INVALID)
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated requests, with WWW-Authenticate.
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "workspaces.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A workspace API token (`snt_...`), created in the API or with `manage.py create_api_token`.",
        }
