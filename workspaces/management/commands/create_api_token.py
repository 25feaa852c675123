"""`manage.py create_api_token --workspace SLUG --user EMAIL [--scopes read,write] [--name N] [--expires-in-days D]`.

Prints the token once on stdout (only the token, so scripts can capture it); it is stored hashed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from workspaces import services
from workspaces.exceptions import ApplicationError
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Create an API token for a workspace member and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--user", required=True, help="Email of a member of the workspace.")
        parser.add_argument("--scopes", default="read", help="Comma-separated: read, write (default read).")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {options['workspace']!r}.")
        user = get_user_model().objects.filter(email__iexact=options["user"]).order_by("id").first()
        if user is None:
            raise CommandError(f"No user with email {options['user']!r}.")
        expires_at = None
        if options["expires_in_days"] is not None:
            if options["expires_in_days"] < 1:
                raise CommandError("--expires-in-days must be at least 1.")
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        scopes = [part.strip() for part in options["scopes"].split(",") if part.strip()]
        try:
            token, plaintext = services.api_token_create(
                workspace=workspace, user=user, name=options["name"], scopes=scopes, expires_at=expires_at
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from exc
        self.stderr.write(f"Token {token.prefix}… for {user.email} in {workspace.slug}, scopes {','.join(token.scopes)}.")
        self.stdout.write(plaintext)
