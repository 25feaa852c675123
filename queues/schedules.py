"""Cron schedules, declared in code and registered idempotently with rq-scheduler.

A schedule names a job declared with `@job` and a 5-field cron expression (UTC):

    # settings.py (any app appends its own)
    SENTINEL_SCHEDULES += [
        {"name": "billing.aggregate_usage", "cron": "*/5 * * * *", "job": "billing.jobs.aggregate_usage"},
    ]

    # or from an AppConfig.ready()
    from queues.schedules import register_schedule
    register_schedule("analytics.rollup", cron="15 * * * *", job="analytics.jobs.rollup", data={"window": "1h"})

The one scheduler process (`manage.py run_scheduler`, Procfile `scheduler`) registers every
declared schedule at start: an unchanged one keeps its next run time, a changed one is replaced, one
no longer declared is removed. It checks the registrations again every minute, so a Redis that
restarted empty gets its schedules back without a restart.

Each tick queues the declared job through the platform (envelope, lifecycle, retries, dead
letters) with the job id `schedule-<name>-<tick epoch>`: unique per tick and the same for a
duplicate of one tick (two schedulers, a restart mid-tick), which rq then refuses as a duplicate.
rq's own scheduler (in every worker, `--with-scheduler`) keeps doing delayed jobs and retries;
docs/decisions.md explains the split.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from crontab import CronTab
from django.conf import settings
from redis import Redis
from rq_scheduler import Scheduler
from rq_scheduler.utils import to_unix

from queues import keys
from queues.connection import SentinelJob
from queues.declaration import spec_for
from queues.envelope import Envelope
from queues.topology import Queue
from sentinel.correlation import new_correlation_id

log = structlog.get_logger("queues.scheduler")

TEMPLATE_PREFIX = "schedule-"
META_KEY = "sentinel_schedule"
# A tick's result needs to outlive only a duplicate of the same tick.
TICK_RESULT_TTL = 3600


@dataclass(frozen=True)
class Schedule:
    name: str  # unique, dotted by owner app: "queues.sla_monitor"
    cron: str  # 5 fields, UTC
    job: str  # dotted path of a function declared with @job
    data: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # overrides the job's declared queue

    def __post_init__(self) -> None:
        CronTab(self.cron)  # fail at declaration, not at 3 am

    @property
    def template_id(self) -> str:
        return TEMPLATE_PREFIX + re.sub(r"[^A-Za-z0-9_-]+", "-", self.name)

    def tick_job_id(self, tick: int) -> str:
        return f"{self.template_id}-{tick}"

    def fingerprint(self) -> dict[str, Any]:
        return {"cron": self.cron, "job": self.job, "data": self.data, "queue": self.queue}

    def next_after(self, moment: datetime) -> datetime:
        delay = CronTab(self.cron).next(now=moment, default_utc=True)
        return datetime.fromtimestamp(moment.timestamp() + delay, UTC)


# The platform's own cron jobs; settings.SENTINEL_SCHEDULES and register_schedule() add the rest.
BUILTIN: tuple[Schedule, ...] = (
    Schedule("queues.sla_monitor", "* * * * *", "queues.jobs.monitor_sla"),
    Schedule("queues.reconciler", "* * * * *", "queues.jobs.reconcile"),
)

_registered: dict[str, Schedule] = {}


def register_schedule(
    name: str, *, cron: str, job: str, data: dict[str, Any] | None = None, queue: str | None = None
) -> Schedule:
    """Declare a schedule from code (call it from an AppConfig.ready); the scheduler registers it."""
    schedule = Schedule(name=name, cron=cron, job=job, data=dict(data or {}), queue=queue)
    _registered[name] = schedule
    return schedule


def declared_schedules() -> dict[str, Schedule]:
    """Every declared schedule by name: built-ins, then settings, then register_schedule (last wins)."""
    result = {s.name: s for s in BUILTIN}
    for raw in getattr(settings, "SENTINEL_SCHEDULES", []) or []:
        schedule = raw if isinstance(raw, Schedule) else Schedule(**raw)
        result[schedule.name] = schedule
    result.update(_registered)
    return result


class SentinelScheduler(Scheduler):
    """rq-scheduler, firing declared schedules through the platform with a unique id per tick."""

    job_class = SentinelJob

    def heartbeat(self) -> None:
        super().heartbeat()
        self.connection.set(keys.SCHEDULER_HEARTBEAT, f"{time.time():.3f}", ex=keys.SCHEDULER_STALE_SECONDS * 4)

    def register_birth(self) -> None:
        super().register_birth()
        self.connection.set(keys.SCHEDULER_HEARTBEAT, f"{time.time():.3f}", ex=keys.SCHEDULER_STALE_SECONDS * 4)

    def register_death(self) -> None:
        super().register_death()
        self.connection.delete(keys.SCHEDULER_HEARTBEAT)

    def enqueue_jobs(self) -> list[Any]:
        self._last_sync = getattr(self, "_last_sync", 0.0)
        if time.monotonic() - self._last_sync >= 60:
            sync_schedules(self)
            self._last_sync = time.monotonic()
        due = self.get_jobs_to_queue(with_times=True)
        for job, scheduled_at in due:
            if META_KEY in job.meta:
                self.fire(job, scheduled_at)
            else:
                self.enqueue_job(job)
        return [job for job, _ in due]

    def fire(self, template: SentinelJob, scheduled_at: datetime) -> str | None:
        """Queue one tick of a schedule and move its template to the next tick."""
        from queues.dispatch import enqueue_envelope

        name = template.meta[META_KEY]
        schedule = declared_schedules().get(name)
        if schedule is None:  # undeclared since it was registered
            self.cancel(template)
            template.delete()
            return None
        tick = int(to_unix(scheduled_at))
        job_id = schedule.tick_job_id(tick)
        try:
            spec = spec_for(schedule.job)
            envelope = Envelope(
                schema_version=spec.schema_version,
                workspace_id=None,
                correlation_id=new_correlation_id(),
                entity_ids={"schedule": schedule.name, "tick": tick},
                data=dict(schedule.data),
                job_id=job_id,
            )
            queue = Queue.from_name(schedule.queue) if schedule.queue else spec.queue
            queued = enqueue_envelope(spec, envelope, queue=queue, connection=self.connection, result_ttl=TICK_RESULT_TTL)
            log.info("schedule.tick", schedule=schedule.name, job_id=job_id, queued=queued)
        except Exception:  # noqa: BLE001 - one broken schedule must not stop the others
            log.exception("schedule.tick_failed", schedule=schedule.name, job_id=job_id)
        next_at = schedule.next_after(datetime.now(UTC))
        self.connection.zadd(self.scheduled_jobs_key, {template.id: to_unix(next_at)})
        return job_id


def sync_schedules(scheduler: Scheduler, schedules: Iterable[Schedule] | None = None) -> dict[str, list[str]]:
    """Make rq-scheduler hold exactly the declared schedules. Idempotent; returns what changed."""
    connection: Redis = scheduler.connection
    wanted = {s.template_id: s for s in (schedules if schedules is not None else declared_schedules().values())}
    changes: dict[str, list[str]] = {"added": [], "updated": [], "removed": [], "kept": []}
    present = {
        m.decode() if isinstance(m, bytes) else m
        for m in connection.zrange(scheduler.scheduled_jobs_key, 0, -1)
    }
    for template_id in sorted(present):
        if template_id.startswith(TEMPLATE_PREFIX) and template_id not in wanted:
            scheduler.cancel(template_id)
            connection.delete(SentinelJob.key_for(template_id))
            changes["removed"].append(template_id)
    for template_id, schedule in wanted.items():
        if template_id in present:
            try:
                current = SentinelJob.fetch(template_id, connection=connection)
                if current.meta.get("fingerprint") == schedule.fingerprint():
                    changes["kept"].append(schedule.name)
                    continue
            except Exception:  # noqa: BLE001 - missing or unreadable: register it again
                log.warning("schedules.template_unreadable", schedule=schedule.name)
            changes["updated"].append(schedule.name)
        else:
            changes["added"].append(schedule.name)
        scheduler.cancel(template_id)
        template = SentinelJob.create(
            schedule.job,
            args=(),
            connection=connection,
            id=template_id,
            result_ttl=TICK_RESULT_TTL,
            description=f"schedule {schedule.name} ({schedule.cron})",
            meta={META_KEY: schedule.name, "fingerprint": schedule.fingerprint(), "cron_string": schedule.cron},
        )
        template.origin = schedule.queue or spec_for(schedule.job).queue.queue_name
        template.save()
        next_at = schedule.next_after(datetime.now(UTC))
        connection.zadd(scheduler.scheduled_jobs_key, {template_id: to_unix(next_at)})
    if changes["added"] or changes["updated"] or changes["removed"]:
        log.info("schedules.registered", **{k: v for k, v in changes.items() if k != "kept"})
    return changes
