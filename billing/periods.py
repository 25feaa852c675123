"""Billing periods.

- A Stripe-billed subscription's period is Stripe's `current_period_start`..`current_period_end`.
  When the end has passed and the renewal event has not arrived yet, the period rolls forward by
  months from the old end (Stripe renews on that anchor, so the counters line up when it lands).
- Everything else (free, operator-set plans, a lapsed subscription back on free) uses the UTC
  calendar month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole months, clamping the day (Jan 31 + 1 month = Feb 28/29), as Stripe does."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def calendar_month(moment: datetime) -> Period:
    moment = moment.astimezone(UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Period(start, add_months(start, 1))


def rolled(start: datetime, end: datetime, moment: datetime) -> Period:
    """The period containing `moment`, continuing monthly from the known `start`..`end`."""
    if moment < end:
        return Period(start, end)
    step = 0
    current = end
    while True:  # bounded: a subscription a few years stale needs a few dozen steps
        step += 1
        nxt = add_months(end, step)
        if moment < nxt:
            return Period(current, nxt)
        current = nxt
