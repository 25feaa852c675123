"""Role rules for members, through the API (and the services where concurrency matters)."""

from __future__ import annotations

import pytest

from tests.workspaces.factories import add_member, make_user, make_workspace, session_client
from workspaces import services
from workspaces.models import Membership, Role, Workspace
from workspaces.policies import LastOwnerError

pytestmark = pytest.mark.django_db


def members_url(workspace: Workspace, membership: Membership | None = None) -> str:
    base = f"/api/v1/workspaces/{workspace.slug}/members/"
    return base if membership is None else f"{base}{membership.pk}/"


def owner_membership(workspace: Workspace) -> Membership:
    return Membership.objects.get(workspace=workspace, user=workspace.owner)


def test_creator_becomes_owner_member():
    workspace = make_workspace()
    assert owner_membership(workspace).role == Role.OWNER


def test_every_role_can_list_members():
    workspace = make_workspace()
    for role in Role.values:
        member = add_member(workspace, role)
        response = session_client(member.user).get(members_url(workspace))
        assert response.status_code == 200
        assert response.json()["count"] == Membership.objects.filter(workspace=workspace).count()


@pytest.mark.parametrize("role,expected", [(Role.VIEWER, 403), (Role.MEMBER, 403), (Role.ADMIN, 201), (Role.OWNER, 201)])
def test_only_admins_and_owners_add_members(role, expected):
    workspace = make_workspace()
    actor = add_member(workspace, role)
    newcomer = make_user("new")
    response = session_client(actor.user).post(members_url(workspace), {"email": newcomer.email, "role": "member"})
    assert response.status_code == expected, response.content
    assert Membership.objects.filter(workspace=workspace, user=newcomer).exists() == (expected == 201)


def test_admin_cannot_add_or_make_owners():
    workspace = make_workspace()
    admin = add_member(workspace, Role.ADMIN)
    member = add_member(workspace, Role.MEMBER)
    client = session_client(admin.user)
    newcomer = make_user("new")
    assert client.post(members_url(workspace), {"email": newcomer.email, "role": "owner"}).status_code == 403
    assert client.patch(members_url(workspace, member), {"role": "owner"}).status_code == 403
    member.refresh_from_db()
    assert member.role == Role.MEMBER


def test_admin_cannot_demote_or_remove_an_owner():
    workspace = make_workspace()
    admin = add_member(workspace, Role.ADMIN)
    owner = owner_membership(workspace)
    client = session_client(admin.user)
    assert client.patch(members_url(workspace, owner), {"role": "member"}).status_code == 403
    assert client.delete(members_url(workspace, owner)).status_code == 403
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_admin_changes_roles_below_owner():
    workspace = make_workspace()
    admin = add_member(workspace, Role.ADMIN)
    member = add_member(workspace, Role.MEMBER)
    response = session_client(admin.user).patch(members_url(workspace, member), {"role": "viewer"})
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


def test_owner_can_promote_to_owner_and_then_step_down():
    workspace = make_workspace()
    owner = owner_membership(workspace)
    admin = add_member(workspace, Role.ADMIN)
    client = session_client(owner.user)
    assert client.patch(members_url(workspace, admin), {"role": "owner"}).status_code == 200
    assert client.patch(members_url(workspace, owner), {"role": "admin"}).status_code == 200
    workspace.refresh_from_db()
    assert workspace.owner_id == admin.user_id  # the primary contact follows a remaining owner


def test_last_owner_cannot_be_demoted():
    workspace = make_workspace()
    owner = owner_membership(workspace)
    response = session_client(owner.user).patch(members_url(workspace, owner), {"role": "admin"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_last_owner_cannot_leave():
    workspace = make_workspace()
    owner = owner_membership(workspace)
    response = session_client(owner.user).delete(members_url(workspace, owner))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_owner_may_leave_when_another_owner_remains():
    workspace = make_workspace()
    owner = owner_membership(workspace)
    add_member(workspace, Role.OWNER)
    assert session_client(owner.user).delete(members_url(workspace, owner)).status_code == 204
    assert not Membership.objects.filter(pk=owner.pk).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.ADMIN])
def test_any_member_can_leave(role):
    workspace = make_workspace()
    member = add_member(workspace, role)
    assert session_client(member.user).delete(members_url(workspace, member)).status_code == 204
    # Gone means gone: the workspace is now invisible (404), not forbidden.
    assert session_client(member.user).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_viewers_and_members_cannot_remove_or_change_others(role):
    workspace = make_workspace()
    actor = add_member(workspace, role)
    other = add_member(workspace, Role.VIEWER)
    client = session_client(actor.user)
    assert client.delete(members_url(workspace, other)).status_code == 403
    assert client.patch(members_url(workspace, other), {"role": "member"}).status_code == 403


def test_two_owners_demoting_each_other_leave_one_owner():
    """The workspace row lock serialises the rule check: one demotion wins, the other is refused."""
    workspace = make_workspace()
    first = owner_membership(workspace)
    second = add_member(workspace, Role.OWNER)
    services.member_update(membership=second, actor=first, role=Role.ADMIN)
    with pytest.raises(LastOwnerError):
        services.member_update(membership=first, actor=first, role=Role.ADMIN)
    assert Membership.objects.filter(workspace=workspace, role=Role.OWNER).count() == 1


def test_operator_removal_also_refuses_last_owner():
    workspace = make_workspace()
    with pytest.raises(LastOwnerError):
        services.member_remove(membership=owner_membership(workspace), actor=None)


def test_adding_unknown_email_answers_400_with_field_error():
    workspace = make_workspace()
    response = session_client(workspace.owner).post(
        members_url(workspace), {"email": "nobody@example.com", "role": "member"}
    )
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]


def test_adding_existing_member_answers_409():
    workspace = make_workspace()
    member = add_member(workspace, Role.MEMBER)
    response = session_client(workspace.owner).post(members_url(workspace), {"email": member.user.email})
    assert response.status_code == 409


def test_member_teams_accept_only_this_workspaces_teams():
    workspace = make_workspace()
    other = make_workspace()
    own_team = services.team_create(workspace=workspace, name="core")
    foreign_team = services.team_create(workspace=other, name="core")
    member = add_member(workspace, Role.MEMBER)
    client = session_client(workspace.owner)
    response = client.patch(members_url(workspace, member), {"teams": [foreign_team.pk]})
    assert response.status_code == 400
    assert "teams" in response.json()["error"]["fields"]
    response = client.patch(members_url(workspace, member), {"teams": [own_team.pk]})
    assert response.status_code == 200
    assert response.json()["teams"] == [own_team.pk]


def test_members_list_filters_by_role_and_searches_email():
    workspace = make_workspace()
    viewer = add_member(workspace, Role.VIEWER)
    add_member(workspace, Role.MEMBER)
    client = session_client(workspace.owner)
    by_role = client.get(members_url(workspace), {"role": "viewer"}).json()["results"]
    assert [m["id"] for m in by_role] == [viewer.pk]
    by_search = client.get(members_url(workspace), {"search": viewer.user.email}).json()["results"]
    assert [m["id"] for m in by_search] == [viewer.pk]
    assert client.get(members_url(workspace), {"role": "emperor"}).status_code == 400
