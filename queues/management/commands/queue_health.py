"""`manage.py queue_health [--format table|json]`: the job platform's health; exit 1 when unhealthy.

Reports Redis and PostgreSQL, per queue the depth, oldest wait against the SLA, live workers,
failed jobs, open dead letters and the last hour's throughput, plus scheduler liveness and the
reconciler's last run (queues.health.collect_health). Exit code: 0 healthy, 1 unhealthy, so it
fits a cron check or a container health probe.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from queues.health import collect_health, problems


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Command(BaseCommand):
    help = "Report the job platform's health (Redis, PostgreSQL, queues, workers, scheduler); exit 1 if unhealthy."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        health = collect_health()
        if options["format"] == "json":
            self.stdout.write(json.dumps(health, indent=2, sort_keys=False))
        else:
            self.stdout.write(self.render_table(health))
        if not health["healthy"]:
            sys.exit(1)

    def render_table(self, health: dict[str, Any]) -> str:
        redis = health["redis"]
        postgres = health["postgres"]
        lines = [
            f"Sentinel job platform: {'HEALTHY' if health['healthy'] else 'UNHEALTHY'} (checked {health['checked_at']})",
            f"redis      {'ok' if redis['ok'] else 'DOWN'}"
            + (f"  used_memory={redis['used_memory_bytes']}" if redis["ok"] else f"  {redis['error']}"),
            f"postgres   {'ok' if postgres['ok'] else 'DOWN'}" + ("" if postgres["ok"] else f"  {postgres['error']}"),
            f"scheduler  {'alive' if health['scheduler']['alive'] else 'NOT ALIVE'}"
            f"  last_seen={_cell(health['scheduler']['last_seen'])}",
            f"reconciler last_run={_cell(health['reconciler']['last_run'])}",
            f"dead letters open={_cell(health['dead_letters']['open'])}",
            "",
        ]
        columns = [
            ("queue", "name"),
            ("prio", "priority"),
            ("depth", "depth"),
            ("oldest_s", "oldest_wait_seconds"),
            ("sla_s", "sla_seconds"),
            ("breach", "sla_breached"),
            ("workers", "workers"),
            ("failed", "failed"),
            ("dead", "dead_letters"),
            ("jobs/min", "jobs_per_minute"),
            ("fail_rate", "failure_rate"),
            ("p95_s", "p95_run_seconds"),
        ]
        rows = [[title for title, _ in columns]]
        rows += [[_cell(q[key]) for _, key in columns] for q in health["queues"]]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        for row in rows:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        found = problems(health)
        if found:
            lines.append("")
            lines.extend(f"problem: {p}" for p in found)
        return "\n".join(lines) + "\n"
