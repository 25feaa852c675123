"""Typed errors every AI provider raises, whatever its SDK.

Each carries the provider, the model, the HTTP status (None when there was no response) and the
provider's own message — scrubbed of secrets (`integrations.ai.redaction.scrub_secrets`) before it
is stored here, so an error can be logged, put in a dead letter or shown to a workspace as is.

How the review engine treats them (reviews.engine.service):
- `Overloaded`, `Timeout` and any 5xx (`ServerError`): try the next eligible provider.
- `RateLimited`: propagates; it is a `queues.exceptions.RetryAfter`, so the job platform retries
  the whole job after `retry_after` seconds (consuming one attempt of the LLM retry policy).
- `AuthFailed`: the workspace key is marked invalid (signal `provider_key_invalidated`), then the
  next provider is tried.
- `BadRequest`, `InvalidOutput`: deterministic; they propagate.
- `NoEligibleProvider`: nothing may run (plan, keys, cooldown): the run is skipped, not retried.
"""

from __future__ import annotations

from typing import Any

from queues.exceptions import PermanentFailure, RetryAfter


class ProviderError(Exception):
    """A provider call failed. `code` is a stable machine name for runs and API bodies."""

    code = "provider_error"
    # Whether the engine may try the next eligible provider after this error.
    fallback = False

    def __init__(
        self,
        message: str = "",
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        provider_message: str = "",
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.provider_message = provider_message
        self.message = message or provider_message or self.code
        # Not super(): with RetryAfter/PermanentFailure as second bases, the next __init__ in the
        # MRO would be RetryAfter's (seconds, message) signature.
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        where = "/".join(p for p in (self.provider, self.model) if p)
        status = f" HTTP {self.status}" if self.status else ""
        return f"{self.code} ({where}{status}): {self.message}" if where or status else self.message

    def as_dict(self) -> dict[str, Any]:
        """A secret-free description for run records, logs and API bodies."""
        return {
            "code": self.code,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "message": self.message,
        }


class RateLimited(ProviderError, RetryAfter):
    """429 (rate limit): retry the job after `retry_after` seconds via the job platform."""

    code = "rate_limited"

    def __init__(self, message: str = "", *, retry_after: float = 60.0, **kwargs: Any) -> None:
        ProviderError.__init__(self, message, **kwargs)
        self.retry_after = float(retry_after)
        # RetryAfter's contract: whole seconds, at least 1.
        self.seconds = max(1, int(round(self.retry_after)))


class Overloaded(ProviderError):
    """The provider is overloaded (Anthropic 529, OpenAI 503 "overloaded")."""

    code = "overloaded"
    fallback = True


class ServerError(ProviderError):
    """Any other 5xx or a connection failure: transient on the provider's side."""

    code = "server_error"
    fallback = True


class Timeout(ProviderError):
    """No answer in time."""

    code = "timeout"
    fallback = True


class AuthFailed(ProviderError):
    """401/403: the key is wrong, revoked or lacks permission."""

    code = "auth_failed"
    fallback = True


class QuotaExhausted(ProviderError):
    """429 `insufficient_quota`: the account is out of credit. Retrying cannot help, another provider can."""

    code = "quota_exhausted"
    fallback = True


class BadRequest(ProviderError, PermanentFailure):
    """4xx other than auth/rate limits: our request is wrong for this provider/model."""

    code = "bad_request"


class InvalidOutput(ProviderError, PermanentFailure):
    """The model's output did not match the findings schema, even after one repair attempt."""

    code = "invalid_output"


class NoEligibleProvider(ProviderError, PermanentFailure):
    """No provider may run for this workspace: plan, keys, model rules or cooldowns exclude all.

    `reasons` maps each considered provider to why it was left out.
    """

    code = "no_eligible_provider"

    def __init__(self, message: str = "", *, reasons: dict[str, str] | None = None, **kwargs: Any) -> None:
        self.reasons = dict(reasons or {})
        if not message:
            detail = "; ".join(f"{p}: {r}" for p, r in self.reasons.items()) or "no provider configured"
            message = f"No eligible AI provider ({detail})."
        super().__init__(message, **kwargs)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "reasons": self.reasons}


__all__ = [
    "AuthFailed",
    "BadRequest",
    "InvalidOutput",
    "NoEligibleProvider",
    "Overloaded",
    "ProviderError",
    "QuotaExhausted",
    "RateLimited",
    "ServerError",
    "Timeout",
]
