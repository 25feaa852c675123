"""Secret redaction, both ways: before a diff goes into a prompt, and on whatever a model returns.

One compiled alternation of well-known token shapes plus a "name = 'value'" assignment rule, so a
10,000-line diff is scanned in a few milliseconds (bench/bench_diff_preparation.py). A match is
replaced by `[REDACTED:<kind>]`; the caller learns which kinds were found where, so the offline
engine can report hard-coded credentials without ever seeing them.

Private keys span lines: `PrivateKeyBlock` tracks a `-----BEGIN ... PRIVATE KEY-----` line and
redacts every line up to its END line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Specific token shapes first: the alternation takes the first branch that matches at a position.
_TOKEN_PATTERNS: tuple[tuple[str, str], ...] = (
    ("private_key", r"-----BEGIN[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----"),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("url_credentials", r"(?<=://)[^\s:/@'\"]{1,64}:[^\s@/'\"]{3,128}(?=@)"),
)
_TOKEN_RE = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _TOKEN_PATTERNS))

# `password = "hunter22"`, `API_KEY: 'abc...'`, `"client_secret": "..."`: redact the quoted value.
# The value must be 6+ characters and not look like a placeholder or a variable reference.
_ASSIGNMENT_RE = re.compile(
    r"""(?ix)
    (?P<name>[a-z0-9_.\-]*(?:password|passwd|pwd|secret|api[_\-]?key|access[_\-]?key|auth[_\-]?token|
        access[_\-]?token|private[_\-]?key|client[_\-]?secret|token)[a-z0-9_\-]*)
    ["']?\s*(?::=|=>|=|:)\s*
    (?P<quote>["'])(?P<value>[^"'\s]{6,200})(?P=quote)
    """
)
_PLACEHOLDER_RE = re.compile(
    r"(?i)^(?:\$\{?[A-Z_]+\}?|<[^>]+>|x{4,}|\*{3,}|changeme|example|dummy|placeholder|your[_\-].*|"
    r"\[REDACTED:[a-z_]+\]|none|null|true|false|os\.environ.*|env\(.*)$"
)

_END_KEY_RE = re.compile(r"-----END[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----")
# A cheap pre-filter: a line containing none of these (lower-cased) fragments cannot match any
# rule. Plain substring tests are ~50x faster than one case-insensitive alternation per line.
_HINTS: tuple[str, ...] = (
    "-----", "sk-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat", "akia", "asia",
    "xox", "aiza", "eyj", "://", "pass", "pwd", "secret", "key", "token",
)  # fmt: skip


def might_contain_secret(text: str) -> bool:
    """False when `text` (a line, or a whole hunk) cannot contain anything the rules redact."""
    lowered = text.lower()
    for hint in _HINTS:  # a plain loop: measurably faster than any() over a generator here
        if hint in lowered:
            return True
    return False


@dataclass(frozen=True)
class Redaction:
    kind: str  # "private_key", "openai_key", ..., "credential" (assignment rule)
    start: int  # offset in the original line
    end: int


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact_line(line: str) -> tuple[str, list[Redaction]]:
    """Redact one line of text. Returns the new line and what was found (original offsets)."""
    if not might_contain_secret(line):
        return line, []
    found: list[Redaction] = []
    for match in _TOKEN_RE.finditer(line):
        kind = match.lastgroup or "secret"
        found.append(Redaction(kind, match.start(), match.end()))
    for match in _ASSIGNMENT_RE.finditer(line):
        value = match.group("value")
        if _PLACEHOLDER_RE.match(value):
            continue
        start, end = match.span("value")
        if any(r.start <= start < r.end or start <= r.start < end for r in found):
            continue  # already covered by a token shape
        found.append(Redaction("credential", start, end))
    if not found:
        return line, []
    found.sort(key=lambda r: r.start)
    parts: list[str] = []
    position = 0
    for item in found:
        if item.start < position:
            continue
        parts.append(line[position : item.start])
        parts.append(_marker(item.kind))
        position = item.end
    parts.append(line[position:])
    return "".join(parts), found


class PrivateKeyBlock:
    """Stateful: feed the lines of one file in order; lines inside a PEM private key are redacted whole."""

    def __init__(self) -> None:
        self.inside = False

    def feed(self, line: str) -> tuple[str, list[Redaction]]:
        if self.inside:
            if _END_KEY_RE.search(line):
                self.inside = False
            return _marker("private_key"), [Redaction("private_key", 0, len(line))]
        redacted, found = redact_line(line)
        if any(r.kind == "private_key" for r in found) and not _END_KEY_RE.search(line):
            self.inside = True
        return redacted, found


def redact_text(text: str, *, extra_secrets: Iterable[str] = ()) -> str:
    """Redact a whole text (model output, error messages): token shapes, assignments, PEM blocks,
    and any exact `extra_secrets` (e.g. the API key used for the call)."""
    if not text:
        return text
    for secret in extra_secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, _marker("api_key"))
    block = PrivateKeyBlock()
    lines = text.split("\n")
    changed = False
    for index, line in enumerate(lines):
        new, found = block.feed(line)
        if found:
            lines[index] = new
            changed = True
    return "\n".join(lines) if changed else text


def scrub_secrets(text: str, *secrets: str) -> str:
    """For provider error messages: drop the exact secrets and any token-shaped strings."""
    return redact_text(text or "", extra_secrets=secrets)
