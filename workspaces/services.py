"""Writes for the workspaces domain."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from workspaces.models import Workspace


@transaction.atomic
def workspace_get_or_create(*, name: str, slug: str, owner: AbstractBaseUser) -> tuple[Workspace, bool]:
    """Return the workspace with `slug`, creating it owned by `owner` if it does not exist."""
    return Workspace.objects.get_or_create(slug=slug, defaults={"name": name, "owner": owner})
