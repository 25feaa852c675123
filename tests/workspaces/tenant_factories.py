"""Tenant factories of the workspaces app for the cross-tenant walk (see tests/tenancy.py)."""

from __future__ import annotations

import secrets

from tests.tenancy import tenant_factory
from tests.workspaces.factories import make_user
from workspaces import services
from workspaces.models import ApiToken, Invitation, Membership, Role, Team, Workspace


@tenant_factory(Team)
def make_team(workspace: Workspace) -> Team:
    return services.team_create(workspace=workspace, name=f"team-{secrets.token_hex(3)}")


@tenant_factory(Membership)
def make_membership(workspace: Workspace) -> Membership:
    return services.member_add(workspace=workspace, actor=None, user=make_user("member"), role=Role.MEMBER)


@tenant_factory(Invitation)
def make_invitation(workspace: Workspace) -> Invitation:
    owner = Membership.objects.for_workspace(workspace).owners().first()
    invitation, _ = services.invitation_create(
        workspace=workspace, actor=owner, email=f"invitee-{secrets.token_hex(3)}@example.com"
    )
    return invitation


@tenant_factory(ApiToken)
def make_api_token(workspace: Workspace) -> ApiToken:
    token, _ = services.api_token_create(workspace=workspace, user=workspace.owner, name="factory")
    return token
