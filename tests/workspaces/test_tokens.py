"""API tokens: hashing, prefixes, scopes, expiry and revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from tests.workspaces.factories import add_member, make_user, make_workspace, session_client
from workspaces import services
from workspaces.models import ApiToken, Role, hash_secret

pytestmark = pytest.mark.django_db


def bearer(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def test_token_is_stored_only_as_hash_and_prefix():
    workspace = make_workspace()
    token, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="ci")
    assert plaintext.startswith("snt_") and len(plaintext) > 40
    assert token.prefix == plaintext[:12]
    assert token.token_hash == hash_secret(plaintext)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM workspaces_apitoken")
        rows = cursor.fetchall()
    assert rows and all(plaintext not in str(value) for row in rows for value in row)


def test_valid_token_authenticates_and_records_last_use():
    workspace = make_workspace()
    token, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="ci")
    response = bearer(plaintext).get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 200
    assert response.json()["slug"] == workspace.slug
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer snt_nothere_abcdefghijklmnopqrstuvwxyz", "Bearer garbage", "Bearer", "Bearer a b", "Bearer snt_\u00e9"],
)
def test_unknown_or_malformed_token_answers_401_with_challenge(header):
    workspace = make_workspace()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "authentication_failed"


def test_right_prefix_with_wrong_secret_answers_401():
    workspace = make_workspace()
    _, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="ci")
    tampered = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    assert bearer(tampered).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401


def test_no_credentials_answers_401():
    workspace = make_workspace()
    response = APIClient().get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_revoked_token_answers_401():
    workspace = make_workspace()
    token, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="ci")
    client = bearer(plaintext)
    assert client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    services.api_token_revoke(token=token)
    assert client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401


def test_expired_token_answers_401():
    workspace = make_workspace()
    token, plaintext = services.api_token_create(
        workspace=workspace, user=workspace.owner, name="ci", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert bearer(plaintext).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(plaintext).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401


def test_token_of_inactive_user_answers_401():
    workspace = make_workspace()
    _, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="ci")
    workspace.owner.is_active = False
    workspace.owner.save(update_fields=["is_active"])
    assert bearer(plaintext).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401


def test_read_only_token_gets_403_on_writes_and_200_on_reads():
    workspace = make_workspace()
    _, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="ro", scopes=["read"])
    client = bearer(plaintext)
    assert client.get(f"/api/v1/workspaces/{workspace.slug}/teams/").status_code == 200
    response = client.post(f"/api/v1/workspaces/{workspace.slug}/teams/", {"name": "core"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API token is read-only."
    assert client.patch(f"/api/v1/workspaces/{workspace.slug}/", {"name": "x"}).status_code == 403


def test_write_token_can_write_within_its_users_role():
    workspace = make_workspace()
    viewer = add_member(workspace, Role.VIEWER)
    _, owner_token = services.api_token_create(workspace=workspace, user=workspace.owner, name="w", scopes=["write"])
    _, viewer_token = services.api_token_create(workspace=workspace, user=viewer.user, name="w", scopes=["write"])
    assert bearer(owner_token).post(f"/api/v1/workspaces/{workspace.slug}/teams/", {"name": "a"}).status_code == 201
    # The scope does not lift the role: a viewer's write token still cannot write.
    assert bearer(viewer_token).post(f"/api/v1/workspaces/{workspace.slug}/teams/", {"name": "b"}).status_code == 403


def test_token_only_reaches_its_own_workspace():
    owner = make_user("owner")
    first = make_workspace(owner)
    second = make_workspace(owner)
    _, plaintext = services.api_token_create(workspace=first, user=owner, name="ci")
    client = bearer(plaintext)
    assert client.get(f"/api/v1/workspaces/{first.slug}/").status_code == 200
    assert client.get(f"/api/v1/workspaces/{second.slug}/").status_code == 404
    listed = [w["slug"] for w in client.get("/api/v1/workspaces/").json()["results"]]
    assert listed == [first.slug]


def test_create_token_via_api_shows_secret_once_and_list_shows_prefix_only():
    workspace = make_workspace()
    client = session_client(workspace.owner)
    url = f"/api/v1/workspaces/{workspace.slug}/tokens/"
    created = client.post(url, {"name": "deploy", "scopes": ["read", "write"]})
    assert created.status_code == 201, created.content
    secret = created.json()["token"]
    assert secret.startswith(created.json()["prefix"])
    assert bearer(secret).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    listed = client.get(url)
    assert secret not in listed.content.decode()
    assert "token" not in listed.json()["results"][0]
    detail = client.get(f"{url}{created.json()['id']}/")
    assert secret not in detail.content.decode()


def test_tokens_cannot_mint_tokens():
    workspace = make_workspace()
    _, plaintext = services.api_token_create(workspace=workspace, user=workspace.owner, name="w", scopes=["write"])
    response = bearer(plaintext).post(f"/api/v1/workspaces/{workspace.slug}/tokens/", {"name": "more"})
    assert response.status_code == 403


def test_revoke_via_api_makes_token_401():
    workspace = make_workspace()
    client = session_client(workspace.owner)
    created = client.post(f"/api/v1/workspaces/{workspace.slug}/tokens/", {"name": "x"}).json()
    assert client.delete(f"/api/v1/workspaces/{workspace.slug}/tokens/{created['id']}/").status_code == 204
    assert bearer(created["token"]).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401
    listed = client.get(f"/api/v1/workspaces/{workspace.slug}/tokens/").json()["results"]
    assert listed[0]["revoked_at"] is not None


def test_members_see_only_their_own_tokens_admins_see_all():
    workspace = make_workspace()
    member = add_member(workspace, Role.MEMBER)
    services.api_token_create(workspace=workspace, user=workspace.owner, name="owner's")
    services.api_token_create(workspace=workspace, user=member.user, name="member's")
    url = f"/api/v1/workspaces/{workspace.slug}/tokens/"
    assert [t["name"] for t in session_client(member.user).get(url).json()["results"]] == ["member's"]
    assert len(session_client(workspace.owner).get(url).json()["results"]) == 2


def test_removing_a_member_revokes_their_tokens():
    workspace = make_workspace()
    member = add_member(workspace, Role.MEMBER)
    _, plaintext = services.api_token_create(workspace=workspace, user=member.user, name="m")
    services.member_remove(membership=member, actor=None)
    assert bearer(plaintext).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401


def test_token_creation_rejects_bad_input_with_field_errors():
    workspace = make_workspace()
    client = session_client(workspace.owner)
    url = f"/api/v1/workspaces/{workspace.slug}/tokens/"
    response = client.post(url, {"name": "", "scopes": ["admin"]})
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "name" in fields and "scopes" in fields
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = client.post(url, {"name": "x", "expires_at": past})
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]
