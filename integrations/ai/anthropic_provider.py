"""Anthropic through the official `anthropic` SDK (Messages API).

Structured output through one forced tool (`submit_review`, its `input_schema` is the findings
schema): every Claude model supports tool use, while JSON-schema `output_config` needs the newest
ones. A reply without the tool call (a proxy that ignores `tool_choice`) falls back to the text
blocks, which go through the same validation. SDK retries are off, as for OpenAI.
"""

from __future__ import annotations

from typing import Any

import anthropic

from integrations.ai import errors
from integrations.ai.base import Completion, Credentials, LLMProvider, ProviderRequest
from integrations.ai.ratelimits import retry_after_seconds
from integrations.ai.redaction import scrub_secrets

NAME = "anthropic"
TOOL_NAME = "submit_review"


def _error_body(exc: anthropic.APIStatusError) -> dict[str, Any]:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error")
    return inner if isinstance(inner, dict) else {}


def map_error(exc: Exception, *, model: str, secret: str) -> errors.ProviderError:
    common: dict[str, Any] = {"provider": NAME, "model": model}
    if isinstance(exc, anthropic.APITimeoutError):
        return errors.Timeout("The Anthropic request timed out.", **common)
    if isinstance(exc, anthropic.APIConnectionError):
        return errors.ServerError("Could not connect to the Anthropic API.", **common)
    if not isinstance(exc, anthropic.APIStatusError):
        return errors.ProviderError(scrub_secrets(str(exc), secret)[:500], **common)
    status = exc.status_code
    body = _error_body(exc)
    kind = str(body.get("type") or "")
    message = scrub_secrets(str(body.get("message") or exc.message or ""), secret)[:1000]
    common.update(status=status, provider_message=message)
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return errors.AuthFailed(message or "The key was rejected.", **common)
    if status == 429 or kind == "rate_limit_error":
        return errors.RateLimited(
            message, retry_after=retry_after_seconds(exc.response.headers, message), **common
        )
    if status == 529 or kind == "overloaded_error":
        return errors.Overloaded(message or "Overloaded", **common)
    if status in (408, 504) or kind == "timeout_error":
        return errors.Timeout(message or "The request timed out.", **common)
    if status >= 500 or status == 409:
        return errors.ServerError(message or f"Anthropic answered {status}.", **common)
    if "credit balance" in message.lower() or status == 402 or kind == "billing_error":
        return errors.QuotaExhausted(message or "The account has no credit left.", **common)
    return errors.BadRequest(message or f"Anthropic rejected the request ({status}).", **common)


class AnthropicProvider(LLMProvider):
    name = NAME

    def _client(self, timeout: float) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            api_key=self.credentials.api_key,
            base_url=self.credentials.base_url or None,
            timeout=timeout,
            max_retries=0,
        )

    def _complete(self, request: ProviderRequest, messages: list[dict[str, str]]) -> Completion:
        client = self._client(request.timeout_seconds)
        try:
            message = client.messages.create(
                model=request.model,
                max_tokens=request.max_output_tokens,
                system=request.instructions,
                messages=messages,  # type: ignore[arg-type]  # plain dict messages
                tools=[
                    {
                        "name": TOOL_NAME,
                        "description": "Submit the review: a summary, the risk level and the findings.",
                        "input_schema": dict(request.schema),
                    }
                ],
                tool_choice={"type": "tool", "name": TOOL_NAME},
            )
        except anthropic.AnthropicError as exc:
            raise map_error(exc, model=request.model, secret=self.credentials.api_key) from None
        finally:
            client.close()
        payload: str | dict[str, Any] = ""
        texts: list[str] = []
        for block in message.content or []:
            block_type = getattr(block, "type", "")
            if block_type == "tool_use" and getattr(block, "name", "") == TOOL_NAME:
                payload = dict(block.input) if isinstance(block.input, dict) else str(block.input)
                break
            if block_type == "text":
                texts.append(block.text)
        if payload == "":
            payload = "".join(texts)
        usage = message.usage
        return Completion(
            text=payload,
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            model=message.model or request.model,
        )

    def validate_credentials(self, *, model: str = "") -> None:
        """GET /v1/models?limit=1: free, and answers 401 for a bad key."""
        client = self._client(15.0)
        try:
            client.models.list(limit=1)
        except anthropic.AnthropicError as exc:
            raise map_error(exc, model=model, secret=self.credentials.api_key) from None
        finally:
            client.close()


def build(credentials: Credentials) -> AnthropicProvider:
    return AnthropicProvider(credentials)
