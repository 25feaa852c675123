"""`manage.py backfill_events --workspace SLUG [--since YYYY-MM-DD]`

Queues the analytics events of past review runs (runs, findings, annotations) on `bulk`. Events
already recorded keep their keys and are skipped, so running it twice is harmless.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date

from analytics.backfill import queue_backfill
from analytics.rollups import day_start
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Queue analytics events for past review runs of workspaces (bulk queue)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", action="append", default=[], help="Workspace slug (repeatable; default: all).")
        parser.add_argument("--since", help="Only runs created on or after this UTC day (YYYY-MM-DD).")

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            day = parse_date(options["since"])
            if day is None:
                raise CommandError(f"--since must be a date (YYYY-MM-DD), got {options['since']!r}")
            since = day_start(day)
        workspaces = Workspace.objects.order_by("pk")
        if options["workspace"]:
            workspaces = workspaces.filter(slug__in=options["workspace"])
            missing = set(options["workspace"]) - set(workspaces.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"no workspace {sorted(missing)}")
        total = 0
        for workspace in workspaces:
            jobs = queue_backfill(workspace_id=workspace.pk, since=since)
            total += len(jobs)
            self.stdout.write(f"{workspace.slug}: {len(jobs)} backfill job(s) queued on bulk")
        self.stdout.write(self.style.SUCCESS(f"{total} job(s) queued"))
