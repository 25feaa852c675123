"""The plan's seat limit (billing's catalog) applies when members join through the API."""

from __future__ import annotations

import pytest

from billing.services import change_plan
from tests.workspaces.factories import add_member, make_user, make_workspace, session_client
from workspaces.models import Membership

pytestmark = [pytest.mark.django_db, pytest.mark.seat_limit]


def test_free_plan_seats_run_out_with_a_402_and_an_upgrade_hint() -> None:
    workspace = make_workspace(plan="free")  # free: 2 seats, the owner holds one
    client = session_client(workspace.owner)
    url = f"/api/v1/workspaces/{workspace.slug}/members/"
    assert client.post(url, {"email": make_user("second").email, "role": "member"}).status_code == 201

    third = make_user("third")
    response = client.post(url, {"email": third.email, "role": "member"})
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "seat_limit"
    assert "Upgrade" in response.json()["error"]["message"]
    assert not Membership.objects.filter(workspace=workspace, user=third).exists()

    invite = client.post(f"/api/v1/workspaces/{workspace.slug}/invitations/", {"email": "late@example.com"})
    assert invite.status_code == 402


def test_a_paid_plan_has_more_seats_and_operators_are_not_limited() -> None:
    workspace = make_workspace()
    change_plan(workspace_id=workspace.pk, plan="pro")  # pro: 5 seats
    client = session_client(workspace.owner)
    url = f"/api/v1/workspaces/{workspace.slug}/members/"
    for label in ("a", "b", "c", "d"):
        assert client.post(url, {"email": make_user(label).email, "role": "member"}).status_code == 201
    assert client.post(url, {"email": make_user("e").email, "role": "member"}).status_code == 402

    add_member(workspace)  # an operator (command/admin) may exceed the plan deliberately
    assert Membership.objects.filter(workspace=workspace).count() == 6
