"""Exceptions a job raises to steer the platform (retry timing, no retry, cancellation)."""

from __future__ import annotations


class JobError(Exception):
    """Base class of the exceptions the job platform understands."""


class RetryAfter(JobError):
    """Retry this job after `seconds` (e.g. a 429/503 `Retry-After`), instead of the policy's backoff.

    Still consumes one attempt of the job's retry policy: a job that keeps being told to wait ends
    as a dead letter like any other.
    """

    def __init__(self, seconds: float, message: str = "") -> None:
        self.seconds = max(1, int(round(seconds)))
        super().__init__(message or f"retry after {self.seconds}s")


class PermanentFailure(JobError):
    """A deterministic error: retrying cannot help, so the job fails at once and becomes a dead letter."""


class UnknownSchemaVersion(PermanentFailure):
    """The envelope's schema_version is not one this job accepts."""


class JobCancelled(JobError):
    """Raised inside a job (by `report_progress`/`check_cancelled`) once someone cancelled it."""
