"""Test data built through the services, as production builds it."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from workspaces import services
from workspaces.models import Membership, Role, Workspace


def make_user(label: str = "user", **extra: Any) -> Any:
    unique = f"{label}-{secrets.token_hex(4)}"
    return get_user_model().objects.create_user(
        username=unique, email=f"{unique}@example.com", password=None, **extra  # no hashing: fast
    )


def make_workspace(owner: Any = None, *, name: str | None = None, plan: str = "free") -> Workspace:
    owner = owner or make_user("owner")
    name = name or f"ws-{secrets.token_hex(4)}"
    return services.workspace_create(name=name, owner=owner, plan=plan)


def add_member(workspace: Workspace, role: str = Role.MEMBER, user: Any = None) -> Membership:
    user = user or make_user(role)
    return services.member_add(workspace=workspace, actor=None, user=user, role=role)


def session_client(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def token_client(workspace: Workspace, user: Any, scopes: tuple[str, ...] = ("read", "write")) -> APIClient:
    _, plaintext = services.api_token_create(workspace=workspace, user=user, name="test", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client
