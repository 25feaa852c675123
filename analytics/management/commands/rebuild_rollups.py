"""`manage.py rebuild_rollups [--workspace SLUG ...] [--since YYYY-MM-DD] [--queue]`

Recomputes every rollup bucket of the workspaces (default: all) from `--since` (default and floor:
the raw-event retention horizon; older buckets are frozen because their events are gone). Runs
inline by default; `--queue` dispatches the same work as a job on `bulk` instead.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date

from analytics import services
from analytics.rollups import RollupsUnsupported
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Recompute analytics rollups for workspaces from a date (all buckets since then)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace", action="append", default=[], help="Workspace slug or id (repeatable; default: all)."
        )
        parser.add_argument("--since", help="First UTC day to recompute (YYYY-MM-DD; default: retention horizon).")
        parser.add_argument("--queue", action="store_true", help="Dispatch a job on the bulk queue instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            since = parse_date(options["since"])
            if since is None:
                raise CommandError(f"--since must be a date (YYYY-MM-DD), got {options['since']!r}")
        workspace_ids = self._workspace_ids(options["workspace"]) if options["workspace"] else None

        if options["queue"]:
            from analytics.jobs import rebuild_rollups
            from queues.dispatch import dispatch

            job_id = dispatch(
                rebuild_rollups,
                workspace_id=workspace_ids[0] if workspace_ids and len(workspace_ids) == 1 else None,
                entity_ids={"workspaces": ",".join(map(str, workspace_ids or [])) or "all", "since": str(since or "")},
                data={"workspace_ids": workspace_ids, "since": since.isoformat() if since else None},
            )
            self.stdout.write(f"queued {job_id} on bulk")
            return
        try:
            written = services.rebuild_rollups(workspace_ids=workspace_ids, since=since)
        except RollupsUnsupported as exc:
            raise CommandError(str(exc)) from exc
        summary = ", ".join(f"{k}={v}" for k, v in written.items())
        self.stdout.write(self.style.SUCCESS(f"rollups rebuilt: {summary}"))

    def _workspace_ids(self, values: list[str]) -> list[int]:
        ids = []
        for value in values:
            workspace = (
                Workspace.objects.filter(pk=int(value)).first()
                if value.isdigit()
                else Workspace.objects.filter(slug=value).first()
            )
            if workspace is None:
                raise CommandError(f"no workspace {value!r}")
            ids.append(workspace.pk)
        return ids
