"""OpenAI (and any OpenAI-compatible server) through the official `openai` SDK.

Chat Completions with a strict JSON-schema response format. `base_url` per key makes the same
code talk to Ollama, vLLM, LiteLLM, Azure's OpenAI-compatible endpoint or a corporate proxy.
The SDK's own retries are off (`max_retries=0`): the review engine falls back to the next
provider on overload/5xx/timeouts and the job platform retries rate limits, so a retry loop
inside the SDK would only hide the error and hold the worker.
"""

from __future__ import annotations

from typing import Any

import openai

from integrations.ai import errors
from integrations.ai.base import Completion, Credentials, LLMProvider, ProviderRequest
from integrations.ai.ratelimits import retry_after_seconds
from integrations.ai.redaction import scrub_secrets

NAME = "openai"


def _error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    return inner if isinstance(inner, dict) else {}


def map_error(exc: Exception, *, model: str, secret: str) -> errors.ProviderError:
    """An `openai` SDK exception as one of our typed errors, with the key scrubbed from the message."""
    common: dict[str, Any] = {"provider": NAME, "model": model}
    if isinstance(exc, openai.APITimeoutError):
        return errors.Timeout("The OpenAI request timed out.", **common)
    if isinstance(exc, openai.APIConnectionError):
        return errors.ServerError("Could not connect to the OpenAI API.", **common)
    if not isinstance(exc, openai.APIStatusError):
        return errors.ProviderError(scrub_secrets(str(exc), secret)[:500], **common)
    status = exc.status_code
    body = _error_body(exc)
    message = scrub_secrets(str(body.get("message") or exc.message or ""), secret)[:1000]
    code = str(body.get("code") or "")
    kind = str(body.get("type") or "")
    common.update(status=status, provider_message=message)
    if status in (401, 403):
        return errors.AuthFailed(message or "The key was rejected.", **common)
    if status == 429:
        if code == "insufficient_quota" or kind == "insufficient_quota":
            return errors.QuotaExhausted(message or "The account has no quota left.", **common)
        return errors.RateLimited(
            message, retry_after=retry_after_seconds(exc.response.headers, message), **common
        )
    if status == 408:
        return errors.Timeout(message or "The request timed out.", **common)
    if status in (503, 529) or "overloaded" in message.lower():
        return errors.Overloaded(message or "The model is overloaded.", **common)
    if status >= 500 or status == 409:
        return errors.ServerError(message or f"OpenAI answered {status}.", **common)
    return errors.BadRequest(message or f"OpenAI rejected the request ({status}).", **common)


class OpenAIProvider(LLMProvider):
    name = NAME

    def _client(self, timeout: float) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=self.credentials.api_key,
            base_url=self.credentials.base_url or None,
            timeout=timeout,
            max_retries=0,
        )

    def _complete(self, request: ProviderRequest, messages: list[dict[str, str]]) -> Completion:
        client = self._client(request.timeout_seconds)
        try:
            completion = client.chat.completions.create(
                model=request.model,
                messages=[{"role": "system", "content": request.instructions}, *messages],  # type: ignore[list-item]  # plain dict messages
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": "sentinel_review",
                        "strict": True,
                        "schema": dict(request.schema),
                    },
                },
                max_completion_tokens=request.max_output_tokens,
            )
        except openai.OpenAIError as exc:
            raise map_error(exc, model=request.model, secret=self.credentials.api_key) from None
        finally:
            client.close()
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        text = (message.content or message.refusal or "") if message else ""
        usage = completion.usage
        prompt_chars = len(request.instructions) + sum(len(m["content"]) for m in messages)
        return Completion(
            text=text,
            # OpenAI-compatible servers do not all report usage: estimate from characters then.
            input_tokens=(
                usage.prompt_tokens if usage and usage.prompt_tokens is not None else prompt_chars // 4
            ),
            output_tokens=(
                usage.completion_tokens if usage and usage.completion_tokens is not None else len(text) // 4
            ),
            model=completion.model or request.model,
        )

    def validate_credentials(self, *, model: str = "") -> None:
        """GET /v1/models: free, and answers 401 for a bad key (also on Ollama/vLLM/LiteLLM)."""
        client = self._client(15.0)
        try:
            client.models.list()
        except openai.OpenAIError as exc:
            raise map_error(exc, model=model, secret=self.credentials.api_key) from None
        finally:
            client.close()


def build(credentials: Credentials) -> OpenAIProvider:
    return OpenAIProvider(credentials)
