"""Which providers may review for a workspace, in which order, and with which key and model.

(First cut: the offline engine only. Keys, the plan check and circuit breakers follow.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from integrations.ai.base import Provider
from integrations.ai.errors import ProviderError
from integrations.ai.offline import MODEL as OFFLINE_MODEL
from integrations.ai.offline import OfflineProvider

OFFLINE = "offline"
OPENAI = "openai"
ANTHROPIC = "anthropic"
PROVIDERS = (ANTHROPIC, OPENAI, OFFLINE)


@dataclass(frozen=True)
class Candidate:
    provider: str
    model: str
    byok: bool = False
    key_id: int | None = None
    budget_tokens: int = 24_000
    max_calls: int = 6
    max_output_tokens: int = 4096
    timeout_seconds: float = 120.0

    def build(self) -> Provider:
        if self.provider == OFFLINE:
            return OfflineProvider()
        raise NotImplementedError(self.provider)

    def secrets(self) -> tuple[str, ...]:
        return ()


@dataclass
class Candidates:
    candidates: list[Candidate]
    excluded: dict[str, str] = field(default_factory=dict)
    fallback: bool = True


def eligible_candidates(*, workspace_id: int, policy: Mapping[str, Any]) -> Candidates:
    default = getattr(settings, "SENTINEL_DEFAULT_AI_PROVIDER", OFFLINE) or OFFLINE
    excluded: dict[str, str] = {}
    if default != OFFLINE:
        excluded[default] = "not configured"
    return Candidates(candidates=[Candidate(provider=OFFLINE, model=OFFLINE_MODEL)], excluded=excluded)


def check_before_call(candidate: Candidate, *, workspace_id: int) -> None:
    return None


def record_failure(candidate: Candidate, error: ProviderError, *, workspace_id: int) -> None:
    return None


def record_success(candidate: Candidate, *, workspace_id: int) -> None:
    return None
