"""Which providers may review for a workspace, in which order, with which key and model.

Order (deduplicated): the policy's `provider.preferred` (a name or a list), then every provider
the workspace has an active key for (Anthropic, then OpenAI — the original product's order),
then `SENTINEL_DEFAULT_AI_PROVIDER` (`offline` unless configured). With `provider.fallback:
false` only the first of that list is considered.

A provider is eligible when:
- it has an active workspace key (BYOK), or Sentinel's own platform key is configured
  (`SENTINEL_PLATFORM_<PROVIDER>_API_KEY`) — the offline engine needs neither;
- the plan allows it: `billing.services.check_ai_allowed(provider, model, byok)` covers the
  plan's providers, models, BYOK rule and monthly spend cap (checked again before every call);
- its circuit breaker for this workspace is closed (`integrations.ai.circuit`).

Model: the key's default model, else the policy's `provider.model` when this is the preferred
provider, else the catalog default (`integrations.ai.pricing.DEFAULT_MODELS`); if the plan
restricts models and that one is not allowed, the first allowed model this provider prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings

from integrations.ai import circuit, pricing
from integrations.ai.base import Credentials, Provider
from integrations.ai.errors import AuthFailed, ProviderError
from integrations.ai.registry import ANTHROPIC, MODEL_PROVIDERS, OFFLINE, OPENAI, build_provider
from reviews.engine import policy as policy_mod

log = structlog.get_logger(__name__)

__all__ = ["ANTHROPIC", "OFFLINE", "OPENAI", "Candidate", "Candidates", "PlanDenied", "eligible_candidates"]


class PlanDenied(ProviderError):
    """The plan stopped a call half-way (e.g. the spend cap was reached between two chunks)."""

    code = "plan_denied"
    fallback = True


@dataclass
class Candidate:
    provider: str
    model: str
    byok: bool = False
    key_id: int | None = None
    base_url: str = ""
    budget_tokens: int = 24_000
    max_calls: int = 6
    max_output_tokens: int = 4096
    timeout_seconds: float = 120.0
    _secret: str | None = field(default=None, repr=False, compare=False)

    def _api_key(self) -> str:
        if self._secret is None:
            if self.key_id is not None:
                from integrations.models import ProviderKey

                self._secret = ProviderKey.objects.get(pk=self.key_id).reveal()
            else:
                self._secret = platform_key(self.provider)
        return self._secret

    def build(self) -> Provider:
        if self.provider == OFFLINE:
            return build_provider(OFFLINE)
        credentials = Credentials(
            api_key=self._api_key(), base_url=self.base_url, byok=self.byok, key_id=self.key_id
        )
        return build_provider(self.provider, credentials)

    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from anything the model returns (the key itself)."""
        if self.provider == OFFLINE:
            return ()
        return (self._api_key(),)


@dataclass
class Candidates:
    candidates: list[Candidate]
    excluded: dict[str, str] = field(default_factory=dict)
    fallback: bool = True


def platform_key(provider: str) -> str:
    return str(getattr(settings, f"SENTINEL_PLATFORM_{provider.upper()}_API_KEY", "") or "")


def platform_base_url(provider: str) -> str:
    return str(getattr(settings, f"SENTINEL_PLATFORM_{provider.upper()}_BASE_URL", "") or "")


def provider_order(policy: Mapping[str, Any], keyed: list[str]) -> tuple[list[str], bool]:
    section = policy_mod.section(policy, "provider")
    preferred = [p for p in policy_mod.str_list(section.get("preferred")) if p]
    default = str(getattr(settings, "SENTINEL_DEFAULT_AI_PROVIDER", OFFLINE) or OFFLINE)
    order = list(dict.fromkeys([*preferred, *keyed, default]))
    # `fallback: false` means "only my preferred provider" (original §2.1/§9.2). Without a preferred
    # provider there is nobody to stay loyal to, so every eligible provider is tried in order — the
    # resolved policy always carries `fallback` (false by default), and an overloaded provider must
    # still be followed by the next one.
    fallback = section.get("fallback", True) is not False or not preferred
    return (order if fallback else order[:1]), fallback


def _choose_model(provider: str, wanted: str, plan: Any) -> str | None:
    allowed = tuple(getattr(plan, "ai_models", ()) or ())
    if not allowed or wanted in allowed or provider == OFFLINE:
        return wanted
    for model in allowed:
        if pricing.is_priced(provider, model):
            return model
    return None


def eligible_candidates(*, workspace_id: int, policy: Mapping[str, Any]) -> Candidates:
    from billing.selectors import plan_for
    from billing.services import check_ai_allowed
    from integrations.models import ProviderKey

    keys: dict[str, ProviderKey] = {}
    invalid: set[str] = set()
    for key in ProviderKey.objects.for_workspace(workspace_id).order_by("-created_at", "-id"):
        if key.status == "active":
            keys.setdefault(key.provider, key)
        else:
            invalid.add(key.provider)
    keyed = [p for p in MODEL_PROVIDERS if p in keys]
    order, fallback = provider_order(policy, keyed)
    section = policy_mod.section(policy, "provider")
    preferred = policy_mod.str_list(section.get("preferred"))
    policy_model = str(section.get("model") or "")
    plan = plan_for(workspace_id)

    candidates: list[Candidate] = []
    excluded: dict[str, str] = {}
    for provider in order:
        if provider not in (*MODEL_PROVIDERS, OFFLINE):
            excluded[provider] = "unknown provider"
            continue
        key = keys.get(provider)
        if provider == OFFLINE:
            byok, wanted, base_url = False, pricing.DEFAULT_MODELS[OFFLINE], ""
        elif key is not None:
            byok, base_url = True, key.base_url
            wanted = key.default_model or (policy_model if preferred[:1] == [provider] else "")
        elif platform_key(provider):
            byok, base_url = False, platform_base_url(provider)
            wanted = policy_model if preferred[:1] == [provider] else ""
        else:
            excluded[provider] = (
                "the workspace's key was rejected (invalid)" if provider in invalid else "no active key"
            )
            continue
        model = _choose_model(provider, wanted or pricing.DEFAULT_MODELS[provider], plan)
        if model is None:
            excluded[provider] = "no model of this provider is allowed by the plan"
            continue
        decision = check_ai_allowed(workspace_id=workspace_id, provider=provider, model=model, byok=byok)
        if not decision.allowed:
            excluded[provider] = f"{decision.reason}: {decision.message}"
            continue
        if provider != OFFLINE and circuit.is_open(workspace_id, provider):
            excluded[provider] = (
                f"cooling down after repeated failures ({circuit.open_for(workspace_id, provider)} s left)"
            )
            continue
        candidates.append(
            Candidate(
                provider=provider,
                model=model,
                byok=byok,
                key_id=key.pk if (key is not None and provider != OFFLINE) else None,
                base_url=base_url,
                budget_tokens=int(getattr(settings, "SENTINEL_AI_CALL_TOKEN_BUDGET", 24_000)),
                max_calls=int(getattr(settings, "SENTINEL_AI_MAX_CALLS", 6)),
                max_output_tokens=int(getattr(settings, "SENTINEL_AI_MAX_OUTPUT_TOKENS", 4096)),
                timeout_seconds=float(getattr(settings, "SENTINEL_AI_TIMEOUT", 120)),
            )
        )
    return Candidates(candidates=candidates, excluded=excluded, fallback=fallback)


def check_before_call(candidate: Candidate, *, workspace_id: int) -> None:
    """The plan's rules (spend cap above all) before each further call of a multi-call review."""
    from billing.services import check_ai_allowed

    decision = check_ai_allowed(
        workspace_id=workspace_id, provider=candidate.provider, model=candidate.model, byok=candidate.byok
    )
    if not decision.allowed:
        raise PlanDenied(
            decision.message or str(decision.reason),
            provider=candidate.provider,
            model=candidate.model,
        )


def record_failure(candidate: Candidate, error: ProviderError, *, workspace_id: int) -> None:
    """After a failed call: the circuit breaker, and an invalid BYOK key marked as such."""
    if candidate.provider == OFFLINE or isinstance(error, PlanDenied) or not error.fallback:
        return
    if isinstance(error, AuthFailed) and candidate.key_id is not None:
        from integrations.ai.services import provider_key_mark_invalid

        provider_key_mark_invalid(key_id=candidate.key_id, workspace_id=workspace_id, error=error)
        return  # the key is out of routing until it is tested again: no need to cool the provider
    if isinstance(error, AuthFailed):
        log.error("ai.platform_key_rejected", provider=candidate.provider, status=error.status)
    if circuit.record_failure(workspace_id, candidate.provider):
        log.warning(
            "ai.circuit_opened",
            workspace_id=workspace_id,
            provider=candidate.provider,
            cooldown_seconds=circuit.cooldown_seconds(),
        )


def record_success(candidate: Candidate, *, workspace_id: int) -> None:
    if candidate.provider == OFFLINE:
        return
    circuit.record_success(workspace_id, candidate.provider)
    if candidate.key_id is not None:
        from integrations.ai.services import provider_key_mark_used

        provider_key_mark_used(key_id=candidate.key_id)
