from __future__ import annotations

from collections.abc import Callable

from integrations.source_control.base import SourceControlProvider

_factories: dict[str, Callable[[], SourceControlProvider]] = {}


def register_provider(name: str, factory: Callable[[], SourceControlProvider]) -> None:
    """Register a provider factory under `name` (called from the provider module's AppConfig.ready)."""
    _factories[name] = factory


def get_provider(name: str) -> SourceControlProvider:
    try:
        factory = _factories[name]
    except KeyError:
        raise LookupError(f"no source-control provider named {name!r} (known: {sorted(_factories)})") from None
    return factory()
