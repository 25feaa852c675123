"""The findings schema every provider must return: a JSON schema for the model, pydantic to check it.

The JSON schema is written by hand in the shape OpenAI's strict structured outputs accept (every
property required, nullable fields typed `[T, "null"]`, no additional properties), and Anthropic
gets the same schema. `parse_review` is the one validator: it extracts the JSON object from the
model's text (tolerating code fences), validates it, and raises `OutputInvalid` with a short,
model-readable list of problems that the repair prompt sends back.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviews.engine.types import CATEGORIES, SEVERITIES

RISK_LEVELS = ("low", "medium", "high", "critical")
_CATEGORY_ALIASES = {
    "correctness": "bug",
    "reliability": "bug",
    "bugs": "bug",
    "documentation": "docs",
    "doc": "docs",
    "tests": "testing",
}

FINDINGS_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "risk_level", "findings"],
    "properties": {
        "summary": {"type": "string", "description": "Two to five sentences on the change and its risks."},
        "risk_level": {"type": "string", "enum": list(RISK_LEVELS)},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "file",
                    "start_line",
                    "end_line",
                    "severity",
                    "category",
                    "title",
                    "body",
                    "suggestion",
                    "confidence",
                ],
                "properties": {
                    "file": {"type": "string", "description": "Path of the file as shown after ###."},
                    "start_line": {
                        "type": ["integer", "null"],
                        "description": "New-side line number shown in the diff; null for a file-level finding.",
                    },
                    "end_line": {"type": ["integer", "null"]},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "category": {"type": "string", "enum": list(CATEGORIES)},
                    "title": {"type": "string", "description": "One line, at most 120 characters."},
                    "body": {"type": "string", "description": "What is wrong and why, in Markdown."},
                    "suggestion": {
                        "type": ["string", "null"],
                        "description": "Replacement code for start_line..end_line, or null.",
                    },
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
    },
}


class OutputInvalid(ValueError):
    """The model's text is not a valid review; `problems` says why (for the repair prompt)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ModelFinding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file: str = Field(min_length=1, max_length=1000)
    start_line: int | None = None
    end_line: int | None = None
    severity: Literal["critical", "high", "medium", "low", "info"]
    category: Literal["bug", "security", "performance", "maintainability", "style", "docs", "testing"]
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=20_000)
    suggestion: str | None = Field(default=None, max_length=20_000)
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return _CATEGORY_ALIASES.get(value, value)
        return value

    @field_validator("start_line", "end_line", mode="before")
    @classmethod
    def _line(cls, value: Any) -> Any:
        # Models sometimes answer "12" or 0; neither is worth a repair round trip.
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and value <= 0:
            return None
        return value


class ModelReview(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(default="", max_length=20_000)
    risk_level: Literal["low", "medium", "high", "critical"] = "low"
    findings: list[ModelFinding] = Field(default_factory=list, max_length=500)

    @field_validator("risk_level", mode="before")
    @classmethod
    def _risk(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


_FENCE_RE = re.compile(r"^```[a-zA-Z]*\s*\n(.*)\n```\s*$", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in a model reply: bare, fenced (```json ... ```), or the outermost {...}."""
    stripped = (text or "").strip()
    fenced = _FENCE_RE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as first_error:
        start, end = stripped.find("{"), stripped.rfind("}")
        if start != -1 and end > start:
            try:
                return json.loads(stripped[start : end + 1])
            except json.JSONDecodeError:
                pass
        raise OutputInvalid(
            [f"the reply is not valid JSON ({first_error.msg} at character {first_error.pos})"]
        ) from None


def parse_review(payload: str | dict[str, Any]) -> ModelReview:
    """Validate a model reply (text or an already-parsed object, e.g. a tool call's input)."""
    data = extract_json(payload) if isinstance(payload, str) else payload
    if not isinstance(data, dict):
        raise OutputInvalid(["the reply must be a JSON object with summary, risk_level and findings"])
    try:
        return ModelReview.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:20]:
            location = ".".join(str(part) for part in error["loc"])
            problems.append(f"{location}: {error['msg']}")
        raise OutputInvalid(problems) from None
