"""Throttling (429 + Retry-After), a warning-free OpenAPI schema, and the operator commands."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from tests.workspaces.factories import make_user, make_workspace, token_client
from workspaces.models import ApiToken, Membership, Role, Workspace, hash_secret

pytestmark = pytest.mark.django_db


def _rates(token: str) -> dict:
    rest = dict(api_settings.user_settings)
    rest["DEFAULT_THROTTLE_RATES"] = {"token": token, "user": "600/min", "anon": "60/min"}
    return rest


def test_a_token_over_its_rate_gets_429_with_retry_after() -> None:
    owner = make_user()
    workspace = make_workspace(owner)
    client = token_client(workspace, owner)
    with override_settings(REST_FRAMEWORK=_rates("3/min")):
        statuses = [client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code for _ in range(4)]
        limited = client.get(f"/api/v1/workspaces/{workspace.slug}/")
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "throttled"


def test_throttling_is_per_token_so_one_client_cannot_starve_another() -> None:
    owner = make_user()
    workspace = make_workspace(owner)
    noisy, quiet = token_client(workspace, owner), token_client(workspace, owner)
    with override_settings(REST_FRAMEWORK=_rates("2/min")):
        for _ in range(3):
            noisy.get(f"/api/v1/workspaces/{workspace.slug}/")
        assert noisy.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 429
        assert quiet.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200


def test_schema_generates_without_warnings_or_errors() -> None:
    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_trace_lineno()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["paths"], "no paths in the schema"
    assert GENERATOR_STATS._warn_cache == {} and GENERATOR_STATS._error_cache == {}, (
        f"warnings: {list(GENERATOR_STATS._warn_cache)} errors: {list(GENERATOR_STATS._error_cache)}"
    )


def test_schema_and_docs_are_served() -> None:
    client = APIClient()
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_create_workspace_and_create_api_token_commands() -> None:
    out = io.StringIO()
    call_command("create_workspace", "--name", "Acme Reviews", "--owner-email", "ops@example.com", stdout=out)
    workspace = Workspace.objects.get(name="Acme Reviews")
    assert Membership.objects.filter(
        workspace=workspace, user__email="ops@example.com", role=Role.OWNER
    ).exists()

    out = io.StringIO()
    call_command(
        "create_api_token",
        "--workspace",
        workspace.slug,
        "--user",
        "ops@example.com",
        "--scopes",
        "read,write",
        stdout=out,
    )
    plaintext = out.getvalue().strip()
    token = ApiToken.objects.get(workspace=workspace)
    assert plaintext.startswith(token.prefix) and token.token_hash == hash_secret(plaintext)
    assert plaintext not in str(ApiToken.objects.filter(pk=token.pk).values().first())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200


def test_create_api_token_refuses_a_non_member_and_an_unknown_workspace() -> None:
    workspace = make_workspace()
    stranger = make_user("stranger")
    with pytest.raises(CommandError):
        call_command(
            "create_api_token", "--workspace", workspace.slug, "--user", stranger.email, stdout=io.StringIO()
        )
    with pytest.raises(CommandError):
        call_command(
            "create_api_token", "--workspace", "nope", "--user", stranger.email, stdout=io.StringIO()
        )
