"""Server-side SVG charts for the operations dashboard (no JavaScript library, no CDN).

`queues.stats.series()` gives one row per minute for the last 24 hours; the dashboard draws them
in buckets (10 minutes by default: 144 points) so a chart is a few hundred bytes of SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

BUCKET_MINUTES_DEFAULT = 10


def bucket_series(
    rows: Sequence[dict[str, Any]], minutes: int = BUCKET_MINUTES_DEFAULT
) -> list[dict[str, Any]]:
    """Group per-minute rows (oldest first) into `minutes`-wide buckets.

    Each bucket: start minute, jobs, failed, jobs_per_minute (average over the bucket) and
    avg_wait_ms (weighted by jobs, None when no job started in the bucket).
    """
    buckets: list[dict[str, Any]] = []
    for i in range(0, len(rows), minutes):
        chunk = rows[i : i + minutes]
        jobs = sum(r["jobs"] for r in chunk)
        wait_total = sum((r["avg_wait_ms"] or 0) * r["jobs"] for r in chunk)
        buckets.append(
            {
                "minute": chunk[0]["minute"],
                "jobs": jobs,
                "failed": sum(r["failed"] for r in chunk),
                "jobs_per_minute": jobs / len(chunk),
                "avg_wait_ms": (wait_total / jobs) if jobs else None,
            }
        )
    return buckets


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (1 for nothing): a readable axis top."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _fmt(value: float) -> str:
    if value == int(value):
        return str(int(value))
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def line_chart(
    values: Sequence[float | None],
    *,
    first_minute: int,
    bucket_minutes: int = BUCKET_MINUTES_DEFAULT,
    unit: str,
    label: str,
    width: int = 360,
    height: int = 90,
    threshold: float | None = None,
) -> SafeString:
    """A small line chart: values left (oldest) to right (newest); None leaves a gap.

    `threshold` draws a dashed line (e.g. the queue's SLA) and colours the points above it.
    """
    pad_left, pad_right, pad_top, pad_bottom = 46, 6, 6, 16
    plot_w = width - pad_left - pad_right
    plot_h = height - pad_top - pad_bottom
    present = [v for v in values if v is not None]
    top = nice_ceiling(max([*present, threshold or 0, 0]) * 1.05)
    n = max(1, len(values) - 1)

    def x(i: int) -> float:
        return pad_left + plot_w * i / n

    def y(v: float) -> float:
        return pad_top + plot_h * (1 - v / top)

    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{x(i):.1f},{y(v):.1f}")
    parts = [
        format_html(
            '<svg class="chart" role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}" '
            'xmlns="http://www.w3.org/2000/svg">',
            label,
            width,
            height,
            width,
            height,
        ),
        format_html("<title>{}</title>", label),
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" class="chart-bg"/>', pad_left, pad_top, plot_w, plot_h
        ),
        format_html(
            '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{} {}</text>',
            pad_left - 3,
            pad_top + 9,
            _fmt(top),
            unit,
        ),
        format_html(
            '<text x="{}" y="{}" class="chart-axis" text-anchor="end">0</text>',
            pad_left - 3,
            pad_top + plot_h,
        ),
    ]
    if threshold is not None and threshold > 0:
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-threshold"/>',
                pad_left,
                pad_left + plot_w,
                f"{y(threshold):.1f}",
                f"{y(threshold):.1f}",
            )
        )
    for segment in segments:
        if len(segment) == 1:
            cx, cy = segment[0].split(",")
            parts.append(format_html('<circle cx="{}" cy="{}" r="1.5" class="chart-line-dot"/>', cx, cy))
        elif segment:
            parts.append(format_html('<polyline points="{}" class="chart-line"/>', " ".join(segment)))
    if threshold is not None:
        for i, v in enumerate(values):
            if v is not None and v > threshold:
                parts.append(
                    format_html(
                        '<circle cx="{}" cy="{}" r="2" class="chart-breach"/>', f"{x(i):.1f}", f"{y(v):.1f}"
                    )
                )
    # Time labels: start, middle, end of the window (UTC clock times).
    end_minute = first_minute + bucket_minutes * len(values)
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        minute = first_minute + (end_minute - first_minute) * frac
        stamp = datetime.fromtimestamp(minute * 60, tz=UTC).strftime("%H:%M")
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="chart-axis" text-anchor="{}">{}</text>',
                f"{pad_left + plot_w * frac:.1f}",
                height - 3,
                anchor,
                stamp,
            )
        )
    parts.append(mark_safe("</svg>"))  # noqa: S308 - a constant closing tag
    return mark_safe("".join(parts))  # noqa: S308 - every part above is format_html-escaped
