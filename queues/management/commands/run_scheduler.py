"""`manage.py run_scheduler [--interval 5] [--burst]`: the one cron scheduler process.

Registers every declared schedule with rq-scheduler (queues.schedules; idempotent: unchanged
schedules keep their next run), then fires due ticks every `--interval` seconds. Run exactly one
per deployment (Procfile `scheduler`, docker-compose `scheduler`); a second one is harmless (rq-
scheduler's lock plus the per-tick job id) but useless. Its heartbeat is what `queue_health`
reports as scheduler liveness. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connections

from queues.connection import get_redis
from queues.schedules import SentinelScheduler, declared_schedules, sync_schedules


class Command(BaseCommand):
    help = "Run the cron scheduler (rq-scheduler) for the schedules declared in code."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=5, help="seconds between checks for due ticks")
        parser.add_argument("--burst", action="store_true", help="register, fire what is due, and quit")
        parser.add_argument("--list", action="store_true", help="print the declared schedules and quit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for schedule in declared_schedules().values():
                self.stdout.write(f"{schedule.name}  {schedule.cron}  {schedule.job}  queue={schedule.queue or '-'}")
            return
        connections.close_all()
        scheduler = SentinelScheduler(connection=get_redis(), interval=options["interval"])
        changes = sync_schedules(scheduler)
        scheduler._last_sync = time.monotonic()
        self.stdout.write(
            "schedules: "
            + ", ".join(f"{k}={len(v)}" for k, v in changes.items())
        )
        self.stdout.flush()
        scheduler.run(burst=options["burst"])
