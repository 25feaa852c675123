"""The provider interface: one call per budgeted chunk of a diff, validated findings plus usage back.

    provider = get_provider("openai", credentials=Credentials(api_key=..., base_url=...))
    reply = provider.review(ProviderRequest(instructions=..., prompt=..., model="gpt-4o", ...))

`LLMProvider` implements `review()` once for every model provider: send the request, validate
the reply against `integrations.ai.schema`, and on invalid output make **one** repair call (the
previous reply and the problems found go back to the model) before raising `InvalidOutput`.
Subclasses implement `_complete()` (one HTTP call through their official SDK, mapping SDK errors
to `integrations.ai.errors`) and `validate_credentials()` (a cheap call that proves the key works).

Credentials live only in the provider object for the duration of the call; they are never put
in a request, a reply, an error message or a log event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from integrations.ai import pricing
from integrations.ai.errors import InvalidOutput
from integrations.ai.schema import FINDINGS_JSON_SCHEMA, ModelReview, OutputInvalid, parse_review

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Credentials:
    """A key and where to use it. `repr` never shows the key."""

    api_key: str = field(repr=False)
    base_url: str = ""
    # Workspace key (BYOK) or the platform's own.
    byok: bool = True
    key_id: int | None = None

    def __str__(self) -> str:  # a stray f-string or log must not print the key
        return f"Credentials(byok={self.byok}, key_id={self.key_id}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class ReviewFile:
    """A structured view of one file of the chunk, for rule-based providers (the offline engine)."""

    path: str
    status: str
    # (new-side line, redacted text) of every added line.
    added_lines: tuple[tuple[int, str], ...]
    # (new-side line, kind) of every secret redacted from an added line.
    redactions: tuple[tuple[int, str], ...] = ()
    added_count: int = 0


@dataclass(frozen=True)
class ProviderRequest:
    instructions: str  # system prompt
    prompt: str  # user message: the PR context and the budgeted diff text
    model: str
    max_output_tokens: int = 4096
    schema: Mapping[str, Any] = field(default_factory=lambda: FINDINGS_JSON_SCHEMA)
    files: tuple[ReviewFile, ...] = ()
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class Completion:
    """One raw model answer."""

    text: str | dict[str, Any]  # text, or a tool call's already-parsed input
    input_tokens: int
    output_tokens: int
    model: str


@dataclass(frozen=True)
class ProviderReply:
    review: ModelReview
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_microusd: int = 0
    calls: int = 1
    repaired: bool = False


REPAIR_INSTRUCTIONS = (
    "Your previous reply could not be used: {problems}. Reply again with only one JSON object that "
    "matches the schema exactly (summary, risk_level, findings), and nothing else."
)


class Provider(ABC):
    name: str = ""

    @abstractmethod
    def review(self, request: ProviderRequest) -> ProviderReply:
        """Review one chunk. Raises `integrations.ai.errors.ProviderError` subclasses."""

    def validate_credentials(self, *, model: str = "") -> None:
        """A cheap call proving the key works; raises `AuthFailed` etc. No-op for offline."""
        return None


class LLMProvider(Provider):
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    @abstractmethod
    def _complete(self, request: ProviderRequest, messages: list[dict[str, str]]) -> Completion:
        """One call to the model with `messages` (user/assistant turns after the system prompt)."""

    def review(self, request: ProviderRequest) -> ProviderReply:
        messages = [{"role": "user", "content": request.prompt}]
        first = self._complete(request, messages)
        input_tokens, output_tokens = first.input_tokens, first.output_tokens
        try:
            review = parse_review(first.text)
            repaired = False
            calls = 1
            model = first.model
        except OutputInvalid as problem:
            log.warning(
                "ai.output_invalid",
                provider=self.name,
                model=request.model,
                problems=problem.problems[:5],
                attempt=1,
            )
            previous = first.text if isinstance(first.text, str) else _json_dumps(first.text)
            messages = [
                *messages,
                {"role": "assistant", "content": previous[:20_000] or "(empty)"},
                {
                    "role": "user",
                    "content": REPAIR_INSTRUCTIONS.format(problems="; ".join(problem.problems[:10])),
                },
            ]
            second = self._complete(request, messages)
            input_tokens += second.input_tokens
            output_tokens += second.output_tokens
            try:
                review = parse_review(second.text)
            except OutputInvalid as again:
                log.warning(
                    "ai.output_invalid",
                    provider=self.name,
                    model=request.model,
                    problems=again.problems[:5],
                    attempt=2,
                )
                raise InvalidOutput(
                    "The model's output did not match the findings schema after one repair attempt: "
                    + "; ".join(again.problems[:5]),
                    provider=self.name,
                    model=request.model,
                ) from None
            repaired = True
            calls = 2
            model = second.model
        return ProviderReply(
            review=review,
            model=model or request.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_microusd=pricing.cost_microusd(
                self.name, model or request.model, input_tokens, output_tokens
            ),
            calls=calls,
            repaired=repaired,
        )


def _json_dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=str)
