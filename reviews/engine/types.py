"""The contract between the review engine and the review-run flow.

The flow (`reviews.jobs.execute_review_run`) builds an `EngineRequest` and calls
`reviews.engine.service.review(request) -> EngineResult`. The engine chooses an eligible
provider (plan, keys, circuit breaker), prepares the diff (filters, redaction, budget), calls the
provider, validates and scrubs the output. Provider failures surface as the typed errors of
`integrations.ai.errors` (`RateLimited(retry_after)`, `Overloaded`, `AuthFailed`, `BadRequest`,
`Timeout`, `InvalidOutput`) or `NoEligibleProvider` when nothing may run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
Category = Literal["bug", "security", "performance", "maintainability", "style", "docs", "testing"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
CATEGORIES: tuple[str, ...] = ("bug", "security", "performance", "maintainability", "style", "docs", "testing")


@dataclass(frozen=True)
class EngineRequest:
    workspace_id: int
    # Unified diff text (git diff base...head).
    diff: str
    # The resolved, validated policy: the `.sentinel/config.yaml` shape (original §2) merged with
    # dashboard/workspace/system defaults. The engine reads `paths.*`, `review.*`, `provider.*`
    # and `guidelines`.
    policy: Mapping[str, Any]
    repository: str = ""
    title: str = ""
    description: str = ""
    # Fingerprints already reported on this PR: the engine drops findings that repeat them.
    known_fingerprints: frozenset[str] = frozenset()
    # Used in provider idempotency/log context only, never in the prompt.
    run_id: int | None = None
    # The plan's `max_diff_lines` (changed lines reviewed per run); None = unlimited.
    max_diff_lines: int | None = None


@dataclass(frozen=True)
class FindingData:
    path: str
    start_line: int | None  # new-side line; None = file-level (general) finding
    end_line: int | None
    severity: str  # one of SEVERITIES
    category: str  # one of CATEGORIES
    title: str
    body: str
    fingerprint: str
    suggestion: str | None = None
    confidence: float = 1.0


@dataclass(frozen=True)
class SkippedFile:
    path: str
    # "excluded" | "binary" | "generated" | "lockfile" | "vendored" | "too_large" | "plan_limit" | "deleted"
    reason: str


@dataclass(frozen=True)
class Coverage:
    reviewed: tuple[str, ...] = ()
    clipped: tuple[str, ...] = ()  # reviewed in part (over the token budget)
    skipped: tuple[SkippedFile, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "reviewed": list(self.reviewed),
            "clipped": list(self.clipped),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_microusd: int = 0
    calls: int = 0


@dataclass(frozen=True)
class EngineResult:
    provider: str  # "offline" | "openai" | "anthropic"
    model: str
    summary: str
    risk_level: str  # "low" | "medium" | "high" | "critical"
    findings: tuple[FindingData, ...]
    coverage: Coverage
    usage: Usage
    # Whether a workspace key (BYOK) paid for the call, or the platform's own key / offline.
    byok: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
