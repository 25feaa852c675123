"""From validated model findings to the findings a run stores: anchored, scrubbed, fingerprinted,
filtered by policy, de-duplicated, sorted and capped.

- A finding on a path that is not among the reviewed files is dropped (it cannot be shown on the
  PR, and findings on ignored paths must not surface).
- A finding whose start line is not a new-side line of the diff becomes a file-level finding
  (`start_line=None`) — never an inline comment GitHub would reject. An end line outside the diff
  or before the start is pulled back to the start line.
- Text is scrubbed of secrets before it is stored or posted (redaction "the other way").
- The fingerprint is stable across runs: path + normalised title + the normalised code of the
  finding's lines, not line numbers, so a finding that only moved is still recognised.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.ai.redaction import redact_text
from integrations.ai.schema import ModelFinding
from reviews.engine import policy as policy_mod
from reviews.engine.diff import PreparedDiff
from reviews.engine.types import FindingData

_NON_WORD_RE = re.compile(r"[^a-z0-9_]+")
_NUMBER_RE = re.compile(r"\b\d+\b")
_SPACE_RE = re.compile(r"\s+")
MAX_CONTEXT_LINES = 20


def normalise_title(title: str) -> str:
    lowered = _NUMBER_RE.sub(" ", title.lower())
    return _NON_WORD_RE.sub(" ", lowered).strip()


def code_context(prepared: PreparedDiff, path: str, start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    file_diff = prepared.file(path)
    if file_diff is None:
        return ""
    last = min(end or start, start + MAX_CONTEXT_LINES - 1)
    lines = (file_diff.new_lines.get(number, "") for number in range(start, last + 1))
    return "\n".join(_SPACE_RE.sub(" ", line).strip() for line in lines)


def fingerprint(path: str, title: str, context: str) -> str:
    payload = "\x1f".join((path, normalise_title(title), context))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


def _clean_path(path: str) -> str:
    path = path.strip().strip("`")
    if path.startswith(("a/", "b/")):
        path = path[2:]
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


@dataclass
class FinalizedFindings:
    findings: list[FindingData]
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def finalize_findings(
    raw: Iterable[ModelFinding],
    *,
    prepared: PreparedDiff,
    reviewed_paths: Iterable[str],
    policy: Mapping[str, Any],
    known_fingerprints: frozenset[str] = frozenset(),
    secrets: Iterable[str] = (),
) -> FinalizedFindings:
    reviewed = set(reviewed_paths)
    secrets = tuple(s for s in secrets if s)
    categories = policy_mod.enabled_categories(policy)
    floor = policy_mod.SEVERITY_RANK[policy_mod.min_severity(policy)]
    min_confidence = policy_mod.min_confidence(policy)
    result = FinalizedFindings(findings=[])
    by_fingerprint: dict[str, FindingData] = {}

    for item in raw:
        path = _clean_path(item.file)
        file_diff = prepared.file(path)
        if file_diff is None or path not in reviewed:
            result.drop("path_not_reviewed")
            continue
        severity = policy_mod.normalise_severity(item.severity)
        category = policy_mod.normalise_category(item.category)
        if category not in categories:
            result.drop("category_disabled")
            continue
        if policy_mod.SEVERITY_RANK[severity] < floor:
            result.drop("below_min_severity")
            continue
        if item.confidence < min_confidence:
            result.drop("low_confidence")
            continue

        start, end = item.start_line, item.end_line
        if start is not None and start not in file_diff.new_lines:
            start = end = None  # not a line of the diff: a file-level finding, never a broken inline comment
        elif start is not None:
            if end is None or end < start or end not in file_diff.new_lines:
                end = start
            elif end - start > 200:
                end = start
        else:
            end = None

        title = redact_text(item.title.strip(), extra_secrets=secrets)[:300]
        body = redact_text(item.body.strip(), extra_secrets=secrets)
        suggestion = redact_text(item.suggestion, extra_secrets=secrets) if item.suggestion else None
        if start is None:
            suggestion = None  # a replacement needs lines to replace
        print_fp = fingerprint(path, title, code_context(prepared, path, start, end))
        if print_fp in known_fingerprints:
            result.drop("already_reported")
            continue
        finding = FindingData(
            path=path,
            start_line=start,
            end_line=end,
            severity=severity,
            category=category,
            title=title,
            body=body,
            fingerprint=print_fp,
            suggestion=suggestion,
            confidence=round(float(item.confidence), 3),
        )
        existing = by_fingerprint.get(print_fp)
        if existing is not None:
            result.drop("duplicate")
            if policy_mod.SEVERITY_RANK[severity] <= policy_mod.SEVERITY_RANK[existing.severity]:
                continue
        by_fingerprint[print_fp] = finding

    ordered = sorted(
        by_fingerprint.values(),
        key=lambda f: (
            -policy_mod.SEVERITY_RANK[f.severity],
            -f.confidence,
            f.path,
            f.start_line is None,
            f.start_line or 0,
            f.title,
        ),
    )
    cap = policy_mod.max_findings(policy)
    if cap is not None and len(ordered) > cap:
        result.dropped["over_max_findings"] = len(ordered) - cap
        ordered = ordered[:cap]
    result.findings = ordered
    return result
