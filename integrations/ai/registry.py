"""Provider names -> implementations. The offline engine needs no credentials."""

from __future__ import annotations

from integrations.ai.base import Credentials, Provider

OFFLINE = "offline"
OPENAI = "openai"
ANTHROPIC = "anthropic"
MODEL_PROVIDERS = (ANTHROPIC, OPENAI)  # default preference order among keyed providers
ALL_PROVIDERS = (*MODEL_PROVIDERS, OFFLINE)


def build_provider(name: str, credentials: Credentials | None = None) -> Provider:
    if name == OFFLINE:
        from integrations.ai.offline import OfflineProvider

        return OfflineProvider()
    if credentials is None:
        raise ValueError(f"provider {name!r} needs credentials")
    if name in MODEL_PROVIDERS:
        from integrations.ai.egress import check_destination

        check_destination(name, credentials.base_url)  # before any connection (SSRF guard)
    if name == OPENAI:
        from integrations.ai.openai_provider import OpenAIProvider

        return OpenAIProvider(credentials)
    if name == ANTHROPIC:
        from integrations.ai.anthropic_provider import AnthropicProvider

        return AnthropicProvider(credentials)
    raise ValueError(f"unknown AI provider {name!r}")
