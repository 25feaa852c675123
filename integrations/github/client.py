"""A GitHub REST client on PyGithub's requester, with errors and rate limits mapped for jobs.

- Authentication: `app_client()` speaks as the App (JWT); `installation_client(id)` as one
  installation (cached installation token, see auth.py). `GITHUB_API_URL` is the base (GHES, tests).
- PyGithub's own retries and request spacing are switched off: they *sleep* inside the request,
  holding a worker. Failures surface as `SourceControlError`; transient ones carry `retry_after`
  so the calling job raises `queues.exceptions.RetryAfter` and the job platform retries it later.
- Rate-limit budget per installation: every response's `x-ratelimit-remaining/-reset` are kept in
  Redis per installation. When an installation is out of quota (or GitHub told it to back off with a
  secondary limit), calls for *that* installation fail fast with `retry_after` until the reset,
  without a request; other installations' jobs are unaffected.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import structlog
from django.conf import settings
from github import Auth, Github, GithubException

from integrations.github import auth
from integrations.source_control.base import SourceControlError
from queues.connection import get_redis

log = structlog.get_logger("integrations.github.client")

BUDGET_PREFIX = "sentinel:github:budget:"
# When GitHub says "secondary rate limit" without Retry-After, its docs say to wait at least a minute.
SECONDARY_LIMIT_DEFAULT_WAIT = 60


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return None


class RateLimitBudget:
    """The remaining GitHub quota of one installation (or of the App itself), in Redis."""

    def __init__(self, key: str) -> None:
        self.key = BUDGET_PREFIX + key

    def check(self) -> None:
        """Raise a transient SourceControlError when this installation must wait; else return."""
        raw = get_redis().hgetall(self.key)
        if not raw:
            return
        values = {k.decode(): v.decode() for k, v in raw.items()}
        now = time.time()
        blocked_until = float(values.get("blocked_until") or 0)
        if blocked_until > now:
            raise SourceControlError(
                "GitHub asked this installation to back off", status=429, transient=True, retry_after=blocked_until - now
            )
        remaining = values.get("remaining")
        reset = float(values.get("reset") or 0)
        if remaining is not None and int(remaining) <= 0 and reset > now:
            raise SourceControlError(
                "GitHub rate limit of this installation is used up", status=403, transient=True, retry_after=reset - now + 1
            )

    def record(self, headers: dict[str, Any] | None) -> None:
        remaining = _header(headers, "x-ratelimit-remaining")
        reset = _header(headers, "x-ratelimit-reset")
        if remaining is None:
            return
        mapping = {"remaining": str(int(float(remaining)))}
        if reset is not None:
            mapping["reset"] = str(int(float(reset)))
        redis = get_redis()
        pipe = redis.pipeline(transaction=False)
        pipe.hset(self.key, mapping=mapping)
        # Keep the record a little past the reset (a stale "0 remaining" must not block forever).
        reset_at = int(float(reset)) if reset is not None else int(time.time()) + 3600
        pipe.expireat(self.key, max(reset_at, int(time.time())) + 60)
        pipe.execute()

    def block_for(self, seconds: float) -> None:
        redis = get_redis()
        until = time.time() + seconds
        redis.hset(self.key, "blocked_until", str(until))
        redis.expire(self.key, int(seconds) + 60)

    def snapshot(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in get_redis().hgetall(self.key).items()}


def map_error(exc: GithubException, *, budget: RateLimitBudget | None = None) -> SourceControlError:
    """Translate a GitHub error response into our error, deciding transient vs deterministic."""
    status = exc.status
    headers = exc.headers or {}
    message = ""
    if isinstance(exc.data, dict):
        message = str(exc.data.get("message") or "")
    text = f"GitHub answered {status}: {message}".strip().rstrip(":")
    retry_after_header = _header(headers, "retry-after")
    retry_after = float(retry_after_header) if retry_after_header and retry_after_header.isdigit() else None
    remaining = _header(headers, "x-ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset")
    lowered = message.lower()
    rate_limited = status == 429 or (
        status == 403 and (remaining == "0" or "rate limit" in lowered or retry_after is not None)
    )
    if rate_limited:
        if retry_after is None and remaining == "0" and reset:
            retry_after = max(1.0, float(reset) - time.time() + 1)
        if retry_after is None:
            retry_after = SECONDARY_LIMIT_DEFAULT_WAIT
        if budget is not None:
            budget.block_for(retry_after)
        return SourceControlError(text, status=status, transient=True, retry_after=retry_after)
    if status >= 500:
        return SourceControlError(text, status=status, transient=True, retry_after=retry_after)
    return SourceControlError(text, status=status, transient=False)


class GitHubClient:
    """One authenticated PyGithub requester plus the budget of whom it speaks for."""

    def __init__(self, *, installation_id: int | None) -> None:
        self.installation_id = installation_id
        self.budget = RateLimitBudget(f"installation:{installation_id}" if installation_id else "app")

    def _github(self) -> Github:
        if self.installation_id is None:
            credentials: Auth.Auth = Auth.AppAuthToken(auth.app_jwt())
        else:
            credentials = Auth.Token(auth.installation_token(self.installation_id))
        return Github(
            auth=credentials,
            base_url=settings.GITHUB_API_URL.rstrip("/"),
            timeout=settings.GITHUB_HTTP_TIMEOUT,
            per_page=100,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            user_agent="Sentinel-GitHub-App",
        )

    def request(
        self,
        verb: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        input: Any = None,  # noqa: A002 - PyGithub's name
        headers: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        """One REST call; returns (response headers, parsed body). Raises SourceControlError."""
        self.budget.check()
        try:
            github = self._github()
            response_headers, data = github.requester.requestJsonAndCheck(
                verb, url, parameters=params, headers=headers, input=input
            )
        except GithubException as exc:
            self.budget.record(exc.headers)
            if exc.status == 401 and self.installation_id is not None:
                # The cached token was revoked or expired early: mint a new one on the retry.
                auth.forget_installation_token(self.installation_id)
                return self._raise(SourceControlError("GitHub refused the installation token", status=401, transient=True, retry_after=1))
            return self._raise(map_error(exc, budget=self.budget))
        except (requests.Timeout, requests.ConnectionError) as exc:
            return self._raise(SourceControlError(f"GitHub unreachable: {type(exc).__name__}", transient=True))
        self.budget.record(response_headers)
        return response_headers, data

    def _raise(self, error: SourceControlError) -> Any:
        log.warning(
            "github.call_failed",
            installation_id=self.installation_id,
            status=error.status,
            transient=error.transient,
            retry_after_s=error.retry_after,
            error=str(error),
        )
        raise error

    def paginate(self, url: str, *, params: dict[str, Any] | None = None, max_pages: int = 30, key: str | None = None):
        """Yield the items of a paginated list endpoint (100 per page), following `Link: rel="next"`."""
        page = 1
        while page <= max_pages:
            response_headers, data = self.request("GET", url, params={**(params or {}), "per_page": 100, "page": page})
            items = data.get(key, []) if key and isinstance(data, dict) else data
            if not isinstance(items, list):
                return
            yield from items
            link = _header(response_headers, "link") or ""
            if 'rel="next"' not in link or not items:
                return
            page += 1


def app_client() -> GitHubClient:
    return GitHubClient(installation_id=None)


def installation_client(installation_id: int) -> GitHubClient:
    return GitHubClient(installation_id=installation_id)
