"""Create the demo superuser and demo workspace that `make run` shows. Safe to run repeatedly."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from workspaces.services import workspace_get_or_create


class Command(BaseCommand):
    help = "Idempotently create a demo superuser and a demo workspace, and print how to log in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default=os.environ.get("SENTINEL_DEMO_USER", "admin"))
        parser.add_argument("--email", default=os.environ.get("SENTINEL_DEMO_EMAIL", "admin@example.com"))
        parser.add_argument("--password", default=os.environ.get("SENTINEL_DEMO_PASSWORD", "sentinel-demo"))
        parser.add_argument("--url", default=os.environ.get("SENTINEL_PUBLIC_URL", "http://127.0.0.1:8000"))

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=options["username"],
            defaults={"email": options["email"], "is_staff": True, "is_superuser": True},
        )
        if created:
            user.set_password(options["password"])
            user.save(update_fields=["password"])
        workspace, _ = workspace_get_or_create(name="Demo workspace", slug="demo", owner=user)
        self.stdout.write(
            "\nSentinel is starting.\n"
            f"  Admin:     {options['url'].rstrip('/')}/admin/\n"
            f"  Username:  {user.get_username()}\n"
            f"  Password:  {options['password'] if user.check_password(options['password']) else '(changed since)'}\n"
            f"  Workspace: {workspace.slug}\n"
        )
