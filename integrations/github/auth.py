"""GitHub App authentication: the App's JWT (PyJWT, RS256) and cached installation tokens.

An installation token lives one hour at GitHub; we keep it in Redis (the Django cache) until five
minutes before it expires, so every job of an installation shares one token instead of minting
one per call. The token is a secret: it is never logged and never put in a job payload.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jwt
import structlog
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from integrations.source_control.base import SourceControlError

log = structlog.get_logger("integrations.github.auth")

TOKEN_CACHE_PREFIX = "github:installation-token:"  # noqa: S105 - a cache key prefix, not a secret
# Refresh this long before GitHub's expiry, so a token never dies in the middle of a job.
TOKEN_SAFETY_MARGIN_SECONDS = 300
# GitHub accepts an App JWT for at most 10 minutes; backdate iat for clock drift, as GitHub advises.
JWT_LIFETIME_SECONDS = 540
JWT_BACKDATE_SECONDS = 60


@lru_cache(maxsize=4)
def _load_private_key(value: str) -> str:
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.replace("\\n", "\n")
    path = Path(text)
    if not path.is_file():
        raise SourceControlError("GITHUB_APP_PRIVATE_KEY is neither a PEM key nor a readable file")
    return path.read_text()


def app_jwt(*, now: float | None = None) -> str:
    """A JWT that authenticates as the GitHub App itself (RS256, issuer = App id)."""
    if not settings.GITHUB_APP_ID or not settings.GITHUB_APP_PRIVATE_KEY:
        raise SourceControlError("GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY must be set to call GitHub")
    issued = int(now if now is not None else time.time()) - JWT_BACKDATE_SECONDS
    claims = {"iat": issued, "exp": issued + JWT_BACKDATE_SECONDS + JWT_LIFETIME_SECONDS, "iss": str(settings.GITHUB_APP_ID)}
    return jwt.encode(claims, _load_private_key(settings.GITHUB_APP_PRIVATE_KEY), algorithm="RS256")


def _cache_key(installation_id: int) -> str:
    return f"{TOKEN_CACHE_PREFIX}{installation_id}"


def forget_installation_token(installation_id: int) -> None:
    """Drop a cached token GitHub refused (revoked, or the installation's permissions changed)."""
    cache.delete(_cache_key(installation_id))


def installation_token(installation_id: int) -> str:
    """The installation's access token, from the cache or freshly minted with the App's JWT."""
    cached = cache.get(_cache_key(installation_id))
    if cached:
        return cached
    from integrations.github.client import app_client

    _, data = app_client().request("POST", f"/app/installations/{installation_id}/access_tokens", input={})
    token = data["token"]
    expires_at = _parse_time(data.get("expires_at"))
    ttl = 3600 - TOKEN_SAFETY_MARGIN_SECONDS
    if expires_at is not None:
        ttl = int((expires_at - timezone.now()).total_seconds()) - TOKEN_SAFETY_MARGIN_SECONDS
    if ttl > 0:
        cache.set(_cache_key(installation_id), token, timeout=ttl)
    log.info("github.installation_token_minted", installation_id=installation_id, ttl_s=ttl)
    return token


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
