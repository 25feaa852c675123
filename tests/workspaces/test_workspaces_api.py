"""Workspace list/detail/settings, teams, invitations and error bodies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.workspaces.factories import add_member, make_user, make_workspace, session_client, token_client
from workspaces import services
from workspaces.models import Invitation, Membership, Role, Team, Workspace, hash_secret
from workspaces.signals import workspace_created

pytestmark = pytest.mark.django_db


def test_list_shows_only_my_workspaces_with_my_role():
    me = make_user("me")
    mine = make_workspace(me)
    shared = make_workspace()
    add_member(shared, Role.VIEWER, user=me)
    make_workspace()  # someone else's
    response = session_client(me).get("/api/v1/workspaces/")
    assert response.status_code == 200
    rows = {row["slug"]: row["role"] for row in response.json()["results"]}
    assert rows == {mine.slug: "owner", shared.slug: "viewer"}


def test_create_workspace_makes_me_owner_and_sends_signal():
    me = make_user("me")
    received = []

    def receiver(sender, workspace, plan, created_by, **kwargs):
        received.append((workspace.slug, plan, created_by.pk))

    workspace_created.connect(receiver)
    try:
        response = session_client(me).post("/api/v1/workspaces/", {"name": "Acme Corp", "plan": "pro"})
    finally:
        workspace_created.disconnect(receiver)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "acme-corp" and body["role"] == "owner"
    assert Membership.objects.get(workspace__slug="acme-corp", user=me).role == Role.OWNER
    assert received == [("acme-corp", "pro", me.pk)]


def test_create_workspace_rejects_unknown_plan_and_taken_slug():
    me = make_user("me")
    existing = make_workspace()
    client = session_client(me)
    response = client.post("/api/v1/workspaces/", {"name": "x", "plan": "platinum"})
    assert response.status_code == 400 and "plan" in response.json()["error"]["fields"]
    response = client.post("/api/v1/workspaces/", {"name": "x", "slug": existing.slug})
    assert response.status_code == 409 and response.json()["error"]["code"] == "slug_taken"
    response = client.post("/api/v1/workspaces/", {"name": "x", "slug": "not a slug!"})
    assert response.status_code == 400 and "slug" in response.json()["error"]["fields"]


def test_signal_receiver_failure_rolls_back_the_workspace():
    me = make_user("me")

    def failing(**kwargs):
        raise RuntimeError("billing down")

    workspace_created.connect(failing)
    try:
        with pytest.raises(RuntimeError):
            services.workspace_create(name="Atomic", owner=me)
    finally:
        workspace_created.disconnect(failing)
    assert not Workspace.objects.filter(slug="atomic").exists()


@pytest.mark.parametrize("role,expected", [(Role.VIEWER, 403), (Role.MEMBER, 403), (Role.ADMIN, 200), (Role.OWNER, 200)])
def test_only_admins_and_owners_change_settings(role, expected):
    workspace = make_workspace()
    actor = add_member(workspace, role)
    response = session_client(actor.user).patch(
        f"/api/v1/workspaces/{workspace.slug}/",
        {"name": "Renamed", "default_review_settings": {"auto_review": False}},
    )
    assert response.status_code == expected
    workspace.refresh_from_db()
    assert (workspace.name == "Renamed") == (expected == 200)
    if expected == 200:
        assert workspace.default_review_settings == {"auto_review": False}


def test_settings_must_be_an_object():
    workspace = make_workspace()
    response = session_client(workspace.owner).patch(
        f"/api/v1/workspaces/{workspace.slug}/", {"default_review_settings": [1, 2]}
    )
    assert response.status_code == 400
    assert "default_review_settings" in response.json()["error"]["fields"]


def test_unknown_workspace_answers_404_with_error_body():
    me = make_user("me")
    response = session_client(me).get("/api/v1/workspaces/no-such-thing/teams/")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["request_id"] == response["X-Request-ID"]


def test_validation_error_body_has_field_messages():
    workspace = make_workspace()
    response = session_client(workspace.owner).post(f"/api/v1/workspaces/{workspace.slug}/teams/", {})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid"
    assert body["fields"]["name"] == ["This field is required."]


def test_malformed_json_answers_400():
    workspace = make_workspace()
    response = session_client(workspace.owner).generic(
        "POST", f"/api/v1/workspaces/{workspace.slug}/teams/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_method_not_allowed_uses_error_body():
    workspace = make_workspace()
    response = session_client(workspace.owner).put(f"/api/v1/workspaces/{workspace.slug}/members/", {})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- teams ------------------------------------------------------------------------------------


def test_team_crud_by_admin_and_read_by_viewer():
    workspace = make_workspace()
    admin = add_member(workspace, Role.ADMIN)
    viewer = add_member(workspace, Role.VIEWER)
    url = f"/api/v1/workspaces/{workspace.slug}/teams/"
    client = session_client(admin.user)
    created = client.post(url, {"name": "platform", "description": "infra"})
    assert created.status_code == 201, created.content
    team_id = created.json()["id"]
    assert client.patch(f"{url}{team_id}/", {"name": "infra"}).json()["name"] == "infra"
    viewer_client = session_client(viewer.user)
    assert viewer_client.get(url).json()["results"][0]["name"] == "infra"
    assert viewer_client.post(url, {"name": "nope"}).status_code == 403
    assert viewer_client.delete(f"{url}{team_id}/").status_code == 403
    assert client.delete(f"{url}{team_id}/").status_code == 204
    assert not Team.objects.filter(pk=team_id).exists()


def test_duplicate_team_name_answers_409_but_same_name_elsewhere_is_fine():
    workspace = make_workspace()
    other = make_workspace()
    services.team_create(workspace=other, name="core")
    url = f"/api/v1/workspaces/{workspace.slug}/teams/"
    client = session_client(workspace.owner)
    assert client.post(url, {"name": "core"}).status_code == 201
    response = client.post(url, {"name": "core"})
    assert response.status_code == 409
    assert response.json()["error"]["fields"]["name"]


def test_team_member_count():
    workspace = make_workspace()
    team = services.team_create(workspace=workspace, name="core")
    member = add_member(workspace, Role.MEMBER)
    services.member_update(membership=member, actor=None, teams=[team])
    rows = session_client(workspace.owner).get(f"/api/v1/workspaces/{workspace.slug}/teams/").json()["results"]
    assert rows[0]["member_count"] == 1


# --- invitations ------------------------------------------------------------------------------


def test_invitation_flow_token_shown_once_and_stored_hashed():
    workspace = make_workspace()
    invitee = make_user("invitee")
    url = f"/api/v1/workspaces/{workspace.slug}/invitations/"
    created = session_client(workspace.owner).post(url, {"email": invitee.email.upper(), "role": "viewer"})
    assert created.status_code == 201, created.content
    token = created.json()["token"]
    invitation = Invitation.objects.get(pk=created.json()["id"])
    assert invitation.token_hash == hash_secret(token) and token not in invitation.token_hash
    assert "token" not in session_client(workspace.owner).get(url).json()["results"][0]
    accepted = session_client(invitee).post("/api/v1/invitations/accept/", {"token": token})
    assert accepted.status_code == 200, accepted.content
    assert Membership.objects.get(workspace=workspace, user=invitee).role == Role.VIEWER
    again = session_client(invitee).post("/api/v1/invitations/accept/", {"token": token})
    assert again.status_code == 404


def test_invitation_cannot_be_accepted_by_someone_else_or_after_expiry_or_revocation():
    workspace = make_workspace()
    invitee = make_user("invitee")
    actor = Membership.objects.get(workspace=workspace, user=workspace.owner)
    invitation, token = services.invitation_create(workspace=workspace, actor=actor, email=invitee.email)
    stranger = make_user("stranger")
    assert session_client(stranger).post("/api/v1/invitations/accept/", {"token": token}).status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert session_client(invitee).post("/api/v1/invitations/accept/", {"token": token}).status_code == 404
    invitation2, token2 = services.invitation_create(workspace=workspace, actor=actor, email=invitee.email)
    url = f"/api/v1/workspaces/{workspace.slug}/invitations/{invitation2.pk}/"
    assert session_client(workspace.owner).delete(url).status_code == 204
    assert session_client(invitee).post("/api/v1/invitations/accept/", {"token": token2}).status_code == 404
    assert not Membership.objects.filter(workspace=workspace, user=invitee).exists()


def test_members_cannot_see_or_send_invitations_and_admins_cannot_invite_owners():
    workspace = make_workspace()
    member = add_member(workspace, Role.MEMBER)
    admin = add_member(workspace, Role.ADMIN)
    url = f"/api/v1/workspaces/{workspace.slug}/invitations/"
    assert session_client(member.user).get(url).status_code == 403
    assert session_client(member.user).post(url, {"email": "a@example.com"}).status_code == 403
    assert session_client(admin.user).post(url, {"email": "a@example.com", "role": "owner"}).status_code == 403
    assert session_client(admin.user).post(url, {"email": "a@example.com", "role": "admin"}).status_code == 201


def test_workspace_creation_needs_a_session_not_a_token():
    workspace = make_workspace()
    client = token_client(workspace, workspace.owner, scopes=("read", "write"))
    assert client.post("/api/v1/workspaces/", {"name": "via token"}).status_code == 403


def test_pagination_and_ordering():
    workspace = make_workspace()
    for name in ["b", "a", "c"]:
        services.team_create(workspace=workspace, name=name)
    client = session_client(workspace.owner)
    url = f"/api/v1/workspaces/{workspace.slug}/teams/"
    page = client.get(url, {"page_size": 2, "ordering": "-name"}).json()
    assert page["count"] == 3 and [t["name"] for t in page["results"]] == ["c", "b"] and page["next"]
    assert client.get(url, {"page": 99}).status_code == 404
