"""Reading the resolved policy (`EngineRequest.policy`, the `.sentinel/config.yaml` shape).

The review-run flow resolves and validates the policy; the engine still reads it defensively,
because a snapshot from an older version may lack keys. Defaults follow the original product's
code (original-sentinel.md §2.1), with its category names mapped onto ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reviews.engine.types import CATEGORIES, SEVERITIES

SEVERITY_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
RISK_LEVELS = ("low", "medium", "high", "critical")

# Category names of the original config file -> ours.
CATEGORY_ALIASES = {
    "correctness": "bug",
    "reliability": "bug",
    "bugs": "bug",
    "documentation": "docs",
    "doc": "docs",
    "tests": "testing",
    "perf": "performance",
}
DEFAULT_CATEGORIES = {
    "bug": True,
    "security": True,
    "performance": True,
    "maintainability": True,
    "testing": True,
    "style": False,
    "docs": False,
}
DEFAULT_MIN_SEVERITY = "low"
DEFAULT_MAX_FINDINGS = 25
DEFAULT_MIN_CONFIDENCE = 0.7


def section(policy: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    value = (policy or {}).get(name)
    return value if isinstance(value, Mapping) else {}


def str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def normalise_category(value: Any) -> str:
    name = str(value or "").strip().lower()
    name = CATEGORY_ALIASES.get(name, name)
    return name if name in CATEGORIES else "maintainability"


def normalise_severity(value: Any) -> str:
    name = str(value or "").strip().lower()
    return name if name in SEVERITIES else "info"


def enabled_categories(policy: Mapping[str, Any]) -> set[str]:
    enabled = dict(DEFAULT_CATEGORIES)
    configured = section(section(policy, "review"), "categories")
    for name, on in configured.items():
        mapped = CATEGORY_ALIASES.get(str(name).lower(), str(name).lower())
        if mapped in enabled:
            enabled[mapped] = bool(on)
    return {name for name, on in enabled.items() if on}


def min_severity(policy: Mapping[str, Any]) -> str:
    value = section(policy, "review").get("min_severity", DEFAULT_MIN_SEVERITY)
    return value if value in SEVERITY_RANK else DEFAULT_MIN_SEVERITY


def max_findings(policy: Mapping[str, Any]) -> int | None:
    """The cap on findings; None = no cap (`max_findings: 0`, as the policy resolution settles §11.8)."""
    value = section(policy, "review").get("max_findings", DEFAULT_MAX_FINDINGS)
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_FINDINGS
    if number <= 0:
        return None
    return min(100, number)


def min_confidence(policy: Mapping[str, Any]) -> float:
    review = section(policy, "review")
    value = review.get("min_confidence", review.get("confidence_threshold", DEFAULT_MIN_CONFIDENCE))
    try:
        return max(0.0, min(1.0, float(value)))
    except (TypeError, ValueError):
        return DEFAULT_MIN_CONFIDENCE


def risk_for(severities: list[str]) -> str:
    """The run's risk level from its findings' severities."""
    top = max((SEVERITY_RANK.get(s, 1) for s in severities), default=1)
    return {5: "critical", 4: "high", 3: "medium"}.get(top, "low")
