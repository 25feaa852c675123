"""Retry policies, named for the seeds' table (docs/queues.md).

A policy is `attempts` retries after the first run, with one interval per retry (the interval list
is exactly as long as the attempts, so rq never reuses an interval by accident). Intervals grow
exponentially from `base_seconds` (or stay fixed) and get a random upward jitter of up to
`jitter` x the interval so retries of many jobs that failed together spread out.

rq stores intervals as whole seconds; the jitter is therefore rounded and a 1-2 s interval has
little of it. `SENTINEL_RETRY_BACKOFF_SCALE` (settings) multiplies every interval, so end-to-end
tests can run real retries fast without changing the policies (minimum 1 s each).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from rq import Retry

EXPONENTIAL = "exponential"
FIXED = "fixed"


@dataclass(frozen=True)
class RetryPolicy:
    name: str
    attempts: int
    base_seconds: int
    backoff: str = EXPONENTIAL
    jitter: float = 0.25

    # The named policies (filled in below the class).
    NONE: ClassVar[RetryPolicy]
    WEBHOOK: ClassVar[RetryPolicy]
    EXTERNAL_API: ClassVar[RetryPolicy]
    LLM: ClassVar[RetryPolicy]
    OUTBOUND_WEBHOOK: ClassVar[RetryPolicy]
    DATABASE: ClassVar[RetryPolicy]

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValueError("attempts must be >= 0")
        if self.backoff not in (EXPONENTIAL, FIXED):
            raise ValueError(f"unknown backoff {self.backoff!r}")

    def base_intervals(self) -> list[int]:
        """The intervals before jitter and scaling: [base, 2*base, 4*base, ...] or [base, base, ...]."""
        if self.backoff == FIXED:
            return [self.base_seconds] * self.attempts
        return [self.base_seconds * 2**i for i in range(self.attempts)]

    def intervals(self, *, rng: random.Random | None = None, scale: float | None = None) -> list[int]:
        """One jittered interval (whole seconds, >= 1) per retry."""
        # The module's shared generator: seeding a new Random per job cost more than the rest of
        # this function, and Python reseeds the shared one in every forked worker.
        uniform = (rng or random).uniform
        if scale is None:
            scale = float(getattr(settings, "SENTINEL_RETRY_BACKOFF_SCALE", 1.0))
        result = []
        for base in self.base_intervals():
            jittered = base * (1 + uniform(0, self.jitter))  # noqa: S311 - jitter, not cryptography
            result.append(max(1, int(round(jittered * scale))))
        return result

    def to_rq(self) -> Retry | None:
        """rq's Retry for this policy, or None when the job must not be retried."""
        if self.attempts == 0:
            return None
        return Retry(max=self.attempts, interval=self.intervals())


RetryPolicy.NONE = RetryPolicy("none", attempts=0, base_seconds=0)
RetryPolicy.WEBHOOK = RetryPolicy("webhook", attempts=3, base_seconds=2)
RetryPolicy.EXTERNAL_API = RetryPolicy("external_api", attempts=3, base_seconds=2)
RetryPolicy.LLM = RetryPolicy("llm", attempts=3, base_seconds=10)
RetryPolicy.OUTBOUND_WEBHOOK = RetryPolicy("outbound_webhook", attempts=5, base_seconds=30)
RetryPolicy.DATABASE = RetryPolicy("database", attempts=2, base_seconds=1, backoff=FIXED)
