"""Price table per model, in USD per million tokens (= micro-USD per token).

Kept in code so a price change is a reviewed commit; `SENTINEL_AI_PRICES` (JSON,
`{"provider/model": [input, output]}`) adds or overrides entries without a deploy, e.g. for a
self-hosted OpenAI-compatible model (`{"openai/llama3.1:8b": [0, 0]}`). A reported model id like
`gpt-4o-2024-08-06` is priced by its longest matching prefix (`gpt-4o`). Unknown models cost 0
and are flagged (`is_priced`), so usage is still recorded and an operator can add the price.
Public list prices, checked 2026; update with the providers' pricing pages.
"""

from __future__ import annotations

import json
import math

from django.conf import settings

# (input, output) USD per 1M tokens.
PRICES: dict[str, dict[str, tuple[float, float]]] = {
    "openai": {
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "gpt-4-turbo": (10.00, 30.00),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
        "o3": (2.00, 8.00),
        "o4-mini": (1.10, 4.40),
    },
    "anthropic": {
        "claude-opus-4": (15.00, 75.00),
        "claude-sonnet-4": (3.00, 15.00),
        "claude-sonnet-4-5": (3.00, 15.00),
        "claude-haiku-4-5": (1.00, 5.00),
        "claude-3-7-sonnet": (3.00, 15.00),
        "claude-3-5-sonnet": (3.00, 15.00),
        "claude-3-5-haiku": (0.80, 4.00),
        "claude-3-haiku": (0.25, 1.25),
    },
    "offline": {"sentinel-offline-rules-v1": (0.0, 0.0)},
}

# The model used when neither the key nor the policy names one.
DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "offline": "sentinel-offline-rules-v1",
}


def _table(provider: str) -> dict[str, tuple[float, float]]:
    table = dict(PRICES.get(provider, {}))
    overrides = getattr(settings, "SENTINEL_AI_PRICES", "") or ""
    if overrides:
        parsed = json.loads(overrides) if isinstance(overrides, str) else overrides
        for name, (price_in, price_out) in parsed.items():
            owner, _, model = name.partition("/")
            if owner == provider and model:
                table[model] = (float(price_in), float(price_out))
    return table


def price_for(provider: str, model: str) -> tuple[float, float] | None:
    table = _table(provider)
    if model in table:
        return table[model]
    matches = [name for name in table if model.startswith(name)]
    if not matches:
        return None
    return table[max(matches, key=len)]


def is_priced(provider: str, model: str) -> bool:
    return price_for(provider, model) is not None


def cost_microusd(provider: str, model: str, input_tokens: int, output_tokens: int) -> int:
    """Cost of one call in micro-USD, rounded up (never under-bill a spend cap)."""
    price = price_for(provider, model)
    if price is None:
        return 0
    return math.ceil(input_tokens * price[0] + output_tokens * price[1])
