"""`manage.py create_workspace --name NAME --owner-email EMAIL [--slug SLUG] [--plan PLAN]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workspaces import services
from workspaces.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Create a workspace owned by the user with --owner-email (created without a password if missing). "
        "--plan is handed to the billing app through the workspace_created signal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--slug", default=None, help="Defaults to a slug made from --name.")
        parser.add_argument("--plan", default=services.DEFAULT_PLAN, choices=services.PLAN_NAMES)

    def handle(self, *args: Any, **options: Any) -> None:
        user, created_user = services.user_get_or_create_by_email(email=options["owner_email"])
        try:
            workspace = services.workspace_create(
                name=options["name"], owner=user, slug=options["slug"], plan=options["plan"]
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from exc
        if created_user:
            self.stdout.write(f"Created user {user.email} (no password; set one with changepassword).")
        self.stdout.write(f"Created workspace {workspace.slug} (id {workspace.pk}) on plan {options['plan']}.")
