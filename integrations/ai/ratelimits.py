"""How long to wait after a 429, from the response headers both providers send.

Order (as the official SDKs read them): `retry-after-ms`, then `retry-after` (seconds or an
HTTP date), then OpenAI's `x-ratelimit-reset-requests/-tokens` (Go durations: `6m0s`, `12ms`),
then the "try again in 26.604s" hint OpenAI puts in its message. Bounded to [1, 3600] s;
`DEFAULT_RETRY_AFTER` when nothing says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from django.utils import timezone

DEFAULT_RETRY_AFTER = 30.0
MAX_RETRY_AFTER = 3600.0
_DURATION_RE = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|h|m|s)")
_MESSAGE_RE = re.compile(r"try again in (?P<duration>(?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """`6m0s` -> 360.0, `12ms` -> 0.012, `1.5s` -> 1.5; None when nothing parses."""
    parts = list(_DURATION_RE.finditer(text or ""))
    if not parts:
        return None
    return sum(float(p.group("value")) * _UNITS[p.group("unit")] for p in parts)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def retry_after_seconds(headers: Mapping[str, str] | None, message: str = "") -> float:
    headers = headers or {}
    seconds: float | None = None
    raw_ms = _header(headers, "retry-after-ms")
    if raw_ms:
        try:
            seconds = float(raw_ms) / 1000.0
        except ValueError:
            seconds = None
    if seconds is None:
        raw = _header(headers, "retry-after")
        if raw:
            try:
                seconds = float(raw)
            except ValueError:
                try:
                    seconds = (parsedate_to_datetime(raw) - timezone.now()).total_seconds()
                except (TypeError, ValueError):
                    seconds = None
    if seconds is None:
        resets = [
            parse_duration(_header(headers, name) or "")
            for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        ]
        known = [r for r in resets if r is not None]
        if known:
            seconds = max(known)
    if seconds is None and message:
        match = _MESSAGE_RE.search(message)
        if match:
            seconds = parse_duration(match.group("duration"))
    if seconds is None:
        seconds = DEFAULT_RETRY_AFTER
    return float(min(MAX_RETRY_AFTER, max(1.0, seconds)))
