"""`manage.py replay_dead_letters [--queue Q] [--since ISO|2h|3d] [--ids 1,2] [--dry-run]`.

Replays pending dead letters (queues.deadletters.replay_dead_letter) and prints what it did.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from queues.deadletters import replay_dead_letter
from queues.models import DeadLetter


def parse_since(value: str) -> Any:
    match = re.fullmatch(r"(\d+)([mhd])", value)
    if match:
        amount, unit = int(match[1]), match[2]
        return timezone.now() - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--since: expected ISO datetime or 30m/2h/3d, got {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.utc)
    return parsed


class Command(BaseCommand):
    help = "Replay pending dead letters (by queue, age or ids)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--queue")
        parser.add_argument("--since", help="failed at or after: ISO datetime or 30m / 2h / 3d")
        parser.add_argument("--ids", help="comma-separated dead letter ids")
        parser.add_argument("--actor", default="manage.py replay_dead_letters")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        letters = DeadLetter.objects.filter(status=DeadLetter.Status.PENDING)
        if not (options["queue"] or options["since"] or options["ids"]):
            raise CommandError("give at least one of --queue, --since, --ids")
        if options["queue"]:
            letters = letters.filter(queue=options["queue"])
        if options["since"]:
            letters = letters.filter(failed_at__gte=parse_since(options["since"]))
        if options["ids"]:
            try:
                ids = [int(x) for x in options["ids"].split(",") if x.strip()]
            except ValueError as exc:
                raise CommandError("--ids: comma-separated integers") from exc
            letters = letters.filter(pk__in=ids)
        count = 0
        for letter in letters.order_by("failed_at", "id"):
            if options["dry_run"]:
                self.stdout.write(f"would replay {letter.pk} {letter.job_name} {letter.job_id}")
            else:
                replay_dead_letter(dead_letter=letter, actor=options["actor"])
                self.stdout.write(f"replayed {letter.pk} {letter.job_name} {letter.job_id}")
            count += 1
        self.stdout.write(f"{count} dead letter(s) {'selected' if options['dry_run'] else 'replayed'}")
