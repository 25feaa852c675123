"""Filters for the dashboard: durations in seconds and "how long ago" for health timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def seconds(value: Any) -> str:
    """12.3 → "12.3 s", 95 → "1 m 35 s", 7300 → "2 h 1 m"; None → "—"."""
    if value is None or value == "":
        return "—"
    try:
        total = float(value)
    except (TypeError, ValueError):
        return str(value)
    if total < 60:
        return f"{total:.1f} s" if total < 10 and total != int(total) else f"{total:.0f} s"
    if total < 3600:
        return f"{int(total // 60)} m {int(total % 60)} s"
    return f"{int(total // 3600)} h {int(total % 3600 // 60)} m"


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
    return None


@register.filter
def ago(value: Any) -> str:
    """A datetime / ISO string / epoch seconds as "5 s ago" (with the UTC time on hover)."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    delta = (timezone.now() - moment).total_seconds()
    if delta < 0:
        delta = 0
    return f"{seconds(delta)} ago"
