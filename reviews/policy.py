"""Review policy: `.sentinel/config.yaml` > repository review settings > workspace defaults > system defaults.

The schema is the original product's (shared/reference/original-sentinel.md §2) with its §11
inconsistencies settled (docs/decisions.md, "Review runs and source control"):
- unknown keys are reported (and ignored), never silently dropped;
- `review.max_findings: 0` means "no cap" (the original rejected it);
- `review.categories.testing` defaults to true, `provider.fallback` to false (the code's values);
- layers merge key by key: a layer that sets `paths.include` keeps the inherited `paths.ignore`;
- every layer is validated; an invalid layer is reported and the next one down is used.

`resolve()` is deterministic: the same inputs give the same policy and the same version hash.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_PATH = ".sentinel/config.yaml"

SeverityName = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_RANK = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

Glob256 = Field(max_length=256)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Triggers(_Strict):
    target_branches: list[str] = Field(default_factory=lambda: ["main", "master"], max_length=50)
    skip_source_branches: list[str] = Field(default_factory=list, max_length=50)
    skip_labels: list[str] = Field(default_factory=list, max_length=50)
    skip_authors: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("target_branches", "skip_source_branches")
    @classmethod
    def _glob_length(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) > 256:
                raise ValueError("patterns are at most 256 characters")
        return value

    @field_validator("skip_labels", "skip_authors")
    @classmethod
    def _name_length(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) > 100:
                raise ValueError("names are at most 100 characters")
        return value


class Paths(_Strict):
    ignore: list[str] = Field(default_factory=lambda: ["*.lock", "vendor/**", "node_modules/**"], max_length=100)
    include: list[str] | None = Field(default_factory=list, max_length=100)
    sensitive: list[str] | None = Field(default_factory=list, max_length=50)

    @field_validator("include", "sensitive")
    @classmethod
    def _none_is_empty(cls, value: list[str] | None) -> list[str]:
        return value or []


class Categories(_Strict):
    security: bool = True
    correctness: bool = True
    performance: bool = True
    maintainability: bool = True
    testing: bool = True
    style: bool = False
    documentation: bool = False


class Review(_Strict):
    min_severity: SeverityName = "low"
    # 0 = no cap (settles §11.8); otherwise at most 100 findings are stored and posted.
    max_findings: int = Field(default=25, ge=0, le=100)
    categories: Categories = Field(default_factory=Categories)
    tone: Literal["constructive", "direct", "educational", "minimal"] = "constructive"
    language: str = Field(default="en", min_length=2, max_length=2)
    focus: list[str] | None = Field(default_factory=list, max_length=20)

    @field_validator("focus")
    @classmethod
    def _focus(cls, value: list[str] | None) -> list[str]:
        for item in value or []:
            if len(item) > 500:
                raise ValueError("focus items are at most 500 characters")
        return value or []


class Guideline(_Strict):
    path: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=1000)

    @field_validator("path")
    @classmethod
    def _doc_file(cls, value: str) -> str:
        if not value.lower().endswith((".md", ".mdx", ".txt", ".rst")):
            raise ValueError("guidelines must be documentation files (.md, .mdx, .txt, .rst)")
        return value


class Annotations(_Strict):
    style: Literal["review", "comment", "check"] = "review"
    post_threshold: SeverityName = "medium"
    grouped: bool = True
    include_suggestions: bool = True


class Provider(_Strict):
    preferred: Literal["anthropic", "openai", "offline"] | None = None
    model: str | None = Field(default=None, max_length=100)
    fallback: bool = False


class Policy(_Strict):
    version: Literal[1] = 1
    triggers: Triggers = Field(default_factory=Triggers)
    paths: Paths = Field(default_factory=Paths)
    review: Review = Field(default_factory=Review)
    guidelines: list[Guideline] = Field(default_factory=list, max_length=10)
    annotations: Annotations = Field(default_factory=Annotations)
    provider: Provider = Field(default_factory=Provider)


def _known_tree(model: type[BaseModel]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        tree[name] = _known_tree(annotation) if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return tree


KNOWN_KEYS = _known_tree(Policy)


def strip_unknown(raw: dict[str, Any], tree: dict[str, Any] = KNOWN_KEYS, prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """The mapping without keys the schema does not know, and the dotted names of those keys."""
    clean: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in tree:
            unknown.append(dotted)
            continue
        sub = tree[key]
        if sub is not None and isinstance(value, dict):
            value, more = strip_unknown(value, sub, dotted + ".")
            unknown.extend(more)
        clean[key] = value
    return clean, unknown


def _format_errors(error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        messages.append(f"{where}: {item['msg']}")
    return messages


class PolicyError(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def validate_layer(raw: Any, *, require_version: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Validate one layer. Returns (only the keys it sets, normalised; unknown-key warnings).

    Raises PolicyError when the layer is not a mapping or breaks the schema.
    """
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise PolicyError(["the configuration must be a mapping of keys to values"])
    clean, unknown = strip_unknown(raw)
    if require_version and "version" not in clean:
        raise PolicyError(["version: field required (use `version: 1`)"])
    try:
        model = Policy.model_validate(clean)
    except ValidationError as exc:
        raise PolicyError(_format_errors(exc)) from None
    return model.model_dump(exclude_unset=True), [f"unknown key `{name}` (ignored)" for name in unknown]


def parse_config_file(text: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise PolicyError([f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"]) from None
    if data is None:
        raise PolicyError(["the file is empty"])
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def system_defaults() -> dict[str, Any]:
    return Policy().model_dump()


def version_hash(policy: dict[str, Any]) -> str:
    canonical = json.dumps(policy, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Layer:
    source: str  # "workspace" | "repository" | "file"
    data: Any
    ref: str | None = None  # for the file: the commit it was read from
    parse_error: list[str] | None = None  # the file could not be read as YAML


@dataclass
class ResolvedPolicy:
    policy: dict[str, Any]
    version: str
    sources: list[dict[str, Any]]
    # Problems to report on the PR: invalid layers (ignored) and unknown keys.
    errors: list[str] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        return {"policy": self.policy, "version": self.version, "sources": self.sources, "errors": self.errors}


LABELS = {"workspace": "workspace defaults", "repository": "repository review settings", "file": CONFIG_PATH}


def resolve(layers: list[Layer]) -> ResolvedPolicy:
    """Merge `layers` (lowest precedence first) over the system defaults.

    An invalid layer is left out and reported; the layers below it still apply.
    """
    merged = system_defaults()
    sources: list[dict[str, Any]] = [{"source": "system", "applied": True}]
    errors: list[str] = []
    for layer in layers:
        label = LABELS.get(layer.source, layer.source)
        entry: dict[str, Any] = {"source": layer.source}
        if layer.ref:
            entry["ref"] = layer.ref
        if layer.parse_error:
            errors.extend(f"{label}: {m}" for m in layer.parse_error)
            entry.update(applied=False, error="; ".join(layer.parse_error))
            sources.append(entry)
            continue
        if layer.data is None or layer.data == {}:
            entry.update(applied=False, absent=True)
            sources.append(entry)
            continue
        try:
            data, warnings = validate_layer(layer.data, require_version=layer.source == "file")
        except PolicyError as exc:
            errors.extend(f"{label}: {m}" for m in exc.messages)
            entry.update(applied=False, error="; ".join(exc.messages))
            sources.append(entry)
            continue
        errors.extend(f"{label}: {w}" for w in warnings)
        candidate = deep_merge(merged, data)
        try:
            merged = Policy.model_validate(candidate).model_dump()
        except ValidationError as exc:  # defensive: each layer validated alone already
            messages = _format_errors(exc)
            errors.extend(f"{label}: {m}" for m in messages)
            entry.update(applied=False, error="; ".join(messages))
            sources.append(entry)
            continue
        entry["applied"] = True
        if warnings:
            entry["warnings"] = warnings
        sources.append(entry)
    return ResolvedPolicy(policy=merged, version=version_hash(merged), sources=sources, errors=errors)


# --- trigger rules -----------------------------------------------------------------------------


def branch_matches(pattern: str, branch: str) -> bool:
    """Branch globs (§2): `*` and `**` match anything including `/`; `?` one character."""
    if pattern == branch:
        return True
    regex = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            regex += ".*"
            continue
        regex += "." if char == "?" else re.escape(char)
        i += 1
    return re.fullmatch(regex, branch, flags=re.DOTALL) is not None


def path_matches(pattern: str, path: str) -> bool:
    """Path globs (§2): `**` matches anything including `/`, `*` anything but `/`, `?` one non-`/`."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path, flags=re.DOTALL) is not None


def trigger_skip_reason(
    policy: dict[str, Any], *, base_ref: str, head_ref: str, labels: tuple[str, ...] | list[str], author: str
) -> str | None:
    """Why the trigger rules exclude this PR (in the original's order), or None when it is in scope."""
    triggers = policy["triggers"]
    targets = triggers["target_branches"]
    if targets and base_ref and not any(branch_matches(p, base_ref) for p in targets):
        return f"the target branch `{base_ref}` is not in triggers.target_branches"
    for pattern in triggers["skip_source_branches"]:
        if head_ref and branch_matches(pattern, head_ref):
            return f"the source branch `{head_ref}` matches triggers.skip_source_branches (`{pattern}`)"
    for label in labels:
        if label in triggers["skip_labels"]:
            return f"the label `{label}` is in triggers.skip_labels"
    if author and author in triggers["skip_authors"]:
        return f"the author `{author}` is in triggers.skip_authors"
    return None
