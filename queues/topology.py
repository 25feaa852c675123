"""The queue topology: every queue Sentinel uses, in one enum.

Lower priority number = served first. A worker lists its queues in priority order and rq takes
from the first non-empty one (strict priority). Timeouts and SLA waits start from the original
product's values; retention follows the seed's table (high-volume / standard / critical) so Redis
memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class Retention:
    """How long rq keeps a finished job's result and a failed job (seconds)."""

    result_ttl: int
    failure_ttl: int


HIGH_VOLUME = Retention(result_ttl=HOUR, failure_ttl=DAY)
STANDARD = Retention(result_ttl=DAY, failure_ttl=7 * DAY)
CRITICAL = Retention(result_ttl=7 * DAY, failure_ttl=30 * DAY)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    priority: int
    sla_wait_seconds: int
    default_timeout: int
    retention: Retention


class Queue(Enum):
    SYSTEM = QueueSpec("system", 1, 10, 60, CRITICAL)
    WEBHOOKS = QueueSpec("webhooks", 5, 15, 30, HIGH_VOLUME)
    REVIEWS_ENTERPRISE = QueueSpec("reviews-enterprise", 20, 30, 600, STANDARD)
    REVIEWS_PAID = QueueSpec("reviews-paid", 30, 45, 600, STANDARD)
    REVIEWS_DEFAULT = QueueSpec("reviews-default", 40, 60, 600, STANDARD)
    BRIEFINGS_DEFAULT = QueueSpec("briefings-default", 45, 60, 600, STANDARD)
    COMMANDS = QueueSpec("commands", 48, 60, 300, STANDARD)
    ANNOTATIONS = QueueSpec("annotations", 50, 30, 60, STANDARD)
    NOTIFICATIONS = QueueSpec("notifications", 55, 60, 30, HIGH_VOLUME)
    SYNC = QueueSpec("sync", 70, 120, 120, STANDARD)
    DEFAULT = QueueSpec("default", 80, 60, 60, HIGH_VOLUME)
    CODE_INDEXING = QueueSpec("code-indexing", 85, 120, 300, STANDARD)
    LONG_RUNNING = QueueSpec("long-running", 90, 300, 600, STANDARD)
    BULK = QueueSpec("bulk", 100, 600, 900, HIGH_VOLUME)

    @property
    def queue_name(self) -> str:
        return self.value.name

    @property
    def priority(self) -> int:
        return self.value.priority

    @property
    def sla_wait_seconds(self) -> int:
        return self.value.sla_wait_seconds

    @property
    def default_timeout(self) -> int:
        return self.value.default_timeout

    @property
    def retention(self) -> Retention:
        return self.value.retention

    @classmethod
    def by_priority(cls) -> list[Queue]:
        return sorted(cls, key=lambda q: q.priority)

    @classmethod
    def from_name(cls, name: str) -> Queue:
        for queue in cls:
            if queue.queue_name == name:
                return queue
        raise ValueError(f"unknown queue {name!r}")


def rq_queues_setting(redis_url: str) -> dict[str, dict[str, object]]:
    """django-rq's RQ_QUEUES, generated from the enum so the two never disagree."""
    return {
        queue.queue_name: {"URL": redis_url, "DEFAULT_TIMEOUT": queue.default_timeout}
        for queue in Queue.by_priority()
    }
