"""Writes for the workspaces domain. Views, admin actions, commands and tests all call these.

Member-management services lock the workspace row (`select_for_update`) before applying the role
rules, so two concurrent requests cannot both demote "the other" owner and leave none.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from workspaces import policies
from workspaces.exceptions import ApplicationError, Conflict, Forbidden, NotFoundError, ValidationFailed
from workspaces.models import (
    ApiToken,
    Invitation,
    Membership,
    Role,
    Team,
    TokenScope,
    Workspace,
    generate_token,
    hash_secret,
)
from workspaces.signals import (
    member_added,
    member_removed,
    member_role_changed,
    workspace_created,
)

# The plan names a new workspace may start on. The billing app owns their meaning and limits;
# this list only validates input before `workspace_created` hands the name to billing.
PLAN_NAMES: tuple[str, ...] = ("free", "pro", "team", "enterprise")
DEFAULT_PLAN = "free"
INVITATION_TTL = timedelta(days=7)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "workspace"
    slug = base
    while Workspace.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def _lock_workspace(workspace: Workspace) -> Workspace:
    return Workspace.objects.select_for_update().get(pk=workspace.pk)


class SeatLimitReached(ApplicationError):
    status_code = 402
    code = "seat_limit"
    message = "The plan's seats are all taken. Upgrade to add members."


def _check_seat_available(workspace: Workspace) -> None:
    """Refuse a new member when the plan has no free seat.

    The rule belongs to billing, which depends on workspaces, so it is reached through the
    `SENTINEL_SEAT_CHECK` setting (a dotted path to `(*, workspace_id) -> Decision`) instead of
    an import. Operators (`actor=None`: commands, admin) are not limited.
    """
    path = getattr(settings, "SENTINEL_SEAT_CHECK", "")
    if not path:
        return
    decision = import_string(path)(workspace_id=workspace.pk)
    if not decision.allowed:
        raise SeatLimitReached(decision.message, code=decision.reason or SeatLimitReached.code)


@transaction.atomic
def workspace_create(
    *,
    name: str,
    owner: AbstractBaseUser,
    slug: str | None = None,
    plan: str = DEFAULT_PLAN,
    default_review_settings: dict[str, Any] | None = None,
) -> Workspace:
    """Create a workspace with `owner` as its first owner member, then send `workspace_created`."""
    if plan not in PLAN_NAMES:
        raise ValidationFailed(fields={"plan": [f"Unknown plan {plan!r}; choose one of {', '.join(PLAN_NAMES)}."]})
    slug = slug or _unique_slug(name)
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(f"The slug {slug!r} is taken.", code="slug_taken", fields={"slug": ["This slug is taken."]})
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(
                name=name, slug=slug, owner=owner, default_review_settings=default_review_settings or {}
            )
    except IntegrityError:  # a concurrent create won the slug
        raise Conflict(f"The slug {slug!r} is taken.", code="slug_taken", fields={"slug": ["This slug is taken."]}) from None
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    workspace_created.send(sender=Workspace, workspace=workspace, plan=plan, created_by=owner)
    return workspace


@transaction.atomic
def workspace_get_or_create(*, name: str, slug: str, owner: AbstractBaseUser) -> tuple[Workspace, bool]:
    """Return the workspace with `slug`, creating it owned by `owner` if it does not exist.

    Either way `owner` ends up an owner member (idempotent; used by bootstrap_demo).
    """
    workspace = Workspace.objects.filter(slug=slug).first()
    created = workspace is None
    if workspace is None:
        workspace = workspace_create(name=name, slug=slug, owner=owner)
    membership, made = Membership.objects.get_or_create(
        user=owner, workspace=workspace, defaults={"role": Role.OWNER}
    )
    if not made and membership.role != Role.OWNER:
        membership.role = Role.OWNER
        membership.save(update_fields=["role", "updated_at"])
    return workspace, created


@transaction.atomic
def workspace_update(
    *, workspace: Workspace, actor: Membership, name: str | None = None,
    default_review_settings: dict[str, Any] | None = None,
) -> Workspace:
    """Change name and/or default review settings. Admins and owners only."""
    if not actor.has_role(Role.ADMIN):
        raise Forbidden("Only admins and owners can change workspace settings.")
    fields = ["updated_at"]
    if name is not None:
        workspace.name = name
        fields.append("name")
    if default_review_settings is not None:
        workspace.default_review_settings = default_review_settings
        fields.append("default_review_settings")
    workspace.save(update_fields=fields)
    return workspace


# --- members ------------------------------------------------------------------------------------

@transaction.atomic
def member_add(
    *, workspace: Workspace, actor: Membership | None, user: AbstractBaseUser, role: str = Role.MEMBER,
    teams: Iterable[Team] = (),
) -> Membership:
    """Add an existing user to the workspace. `actor=None` means an operator (command, admin)."""
    _lock_workspace(workspace)
    if actor is not None:
        policies.check_can_add_member(actor=actor, role=role)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict("This user is already a member.", code="already_member")
    if actor is not None:
        _check_seat_available(workspace)
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    team_list = list(teams)
    _check_teams(workspace, team_list)
    membership.teams.set(team_list)
    member_added.send(sender=Membership, membership=membership, actor=getattr(actor, "user", None))
    return membership


def _check_teams(workspace: Workspace, teams: list[Team]) -> None:
    if any(team.workspace_id != workspace.pk for team in teams):
        # Serializers already scope choices; this is the service-level guard.
        raise ValidationFailed(fields={"teams": ["Unknown team."]})


@transaction.atomic
def member_update(
    *, membership: Membership, actor: Membership | None, role: str | None = None,
    teams: Iterable[Team] | None = None,
) -> Membership:
    """Change a member's role and/or teams, applying the role rules (policies.py)."""
    _lock_workspace(membership.workspace)
    membership.refresh_from_db()
    if role is not None and role != membership.role:
        old_role = membership.role
        if actor is not None:
            actor.refresh_from_db()
            policies.check_can_change_role(actor=actor, target=membership, new_role=role)
        elif old_role == Role.OWNER and Membership.objects.for_workspace(membership.workspace_id).owners().count() <= 1:
            raise policies.LastOwnerError()
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        _sync_workspace_owner(membership.workspace)
        member_role_changed.send(
            sender=Membership, membership=membership, old_role=old_role, actor=getattr(actor, "user", None)
        )
    if teams is not None:
        if actor is not None and not actor.has_role(Role.ADMIN):
            raise Forbidden("Only admins and owners can change team membership.")
        team_list = list(teams)
        _check_teams(membership.workspace, team_list)
        membership.teams.set(team_list)
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: Membership | None) -> None:
    """Remove a member (or let them leave when `actor` is the same membership). Revokes their tokens."""
    workspace = _lock_workspace(membership.workspace)
    membership.refresh_from_db()
    if actor is not None:
        actor.refresh_from_db()
        policies.check_can_remove_member(actor=actor, target=membership)
    elif membership.role == Role.OWNER and Membership.objects.for_workspace(workspace).owners().count() <= 1:
        raise policies.LastOwnerError()
    user = membership.user
    ApiToken.objects.for_workspace(workspace).filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    membership.delete()
    _sync_workspace_owner(workspace)
    member_removed.send(sender=Membership, workspace=workspace, user=user, actor=getattr(actor, "user", None))


def _sync_workspace_owner(workspace: Workspace) -> None:
    """Keep `Workspace.owner` (the primary contact) pointing at a current owner member."""
    workspace.refresh_from_db(fields=["owner"])
    owners = Membership.objects.for_workspace(workspace).owners()
    if owners.filter(user_id=workspace.owner_id).exists():
        return
    first = owners.order_by("created_at", "id").first()
    if first is not None:
        Workspace.objects.filter(pk=workspace.pk).update(owner_id=first.user_id, updated_at=timezone.now())


# --- invitations --------------------------------------------------------------------------------

@transaction.atomic
def invitation_create(
    *, workspace: Workspace, actor: Membership, email: str, role: str = Role.MEMBER,
    ttl: timedelta = INVITATION_TTL,
) -> tuple[Invitation, str]:
    """Invite `email`. Returns the invitation and its plaintext token (shown once, stored hashed)."""
    policies.check_can_add_member(actor=actor, role=role)
    _check_seat_available(workspace)
    email = email.strip().lower()
    if Membership.objects.for_workspace(workspace).filter(user__email__iexact=email).exists():
        raise Conflict("A member with this email already exists.", code="already_member",
                       fields={"email": ["Already a member."]})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=hash_secret(token),
        invited_by=actor.user, expires_at=timezone.now() + ttl,
    )
    return invitation, token


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Membership) -> Invitation:
    policies.check_can_add_member(actor=actor, role=invitation.role)
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """Accept an invitation by its token. The user's email must match the invited address."""
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=hash_secret(token)).select_related("workspace").first()
    )
    if invitation is None or not invitation.is_pending:
        raise NotFoundError("This invitation does not exist, has expired or was already used.")
    if (getattr(user, "email", "") or "").strip().lower() != invitation.email:
        # Same answer as "unknown": an invitation link does not reveal the workspace to someone else.
        raise NotFoundError("This invitation does not exist, has expired or was already used.")
    workspace = _lock_workspace(invitation.workspace)
    membership = Membership.objects.filter(workspace=workspace, user=user).first()
    if membership is None:
        _check_seat_available(workspace)  # seats may have filled since the invitation was sent
        membership = Membership.objects.create(workspace=workspace, user=user, role=invitation.role)
        member_added.send(sender=Membership, membership=membership, actor=invitation.invited_by)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


# --- teams --------------------------------------------------------------------------------------

def team_create(*, workspace: Workspace, name: str, description: str = "") -> Team:
    if Team.objects.for_workspace(workspace).filter(name=name).exists():
        raise Conflict("A team with this name exists.", code="team_exists", fields={"name": ["Already exists."]})
    try:
        with transaction.atomic():
            return Team.objects.create(workspace=workspace, name=name, description=description)
    except IntegrityError:
        raise Conflict("A team with this name exists.", code="team_exists", fields={"name": ["Already exists."]}) from None


def team_update(*, team: Team, name: str | None = None, description: str | None = None) -> Team:
    if name is not None and name != team.name:
        if Team.objects.for_workspace(team.workspace_id).filter(name=name).exclude(pk=team.pk).exists():
            raise Conflict("A team with this name exists.", code="team_exists", fields={"name": ["Already exists."]})
        team.name = name
    if description is not None:
        team.description = description
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        raise Conflict("A team with this name exists.", code="team_exists", fields={"name": ["Already exists."]}) from None
    return team


def team_delete(*, team: Team) -> None:
    team.delete()


# --- API tokens ---------------------------------------------------------------------------------

@transaction.atomic
def api_token_create(
    *, workspace: Workspace, user: AbstractBaseUser, name: str, scopes: Iterable[str] = (TokenScope.READ,),
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for `user` in `workspace`. Returns the row and the plaintext (shown once).

    A token never grants more than its user's role: role checks still apply on every request.
    """
    scope_list = sorted(set(scopes))
    if not scope_list or any(s not in TokenScope.values for s in scope_list):
        raise ValidationFailed(fields={"scopes": [f"Choose from {', '.join(TokenScope.values)}."]})
    if TokenScope.WRITE in scope_list and TokenScope.READ not in scope_list:
        scope_list = sorted([*scope_list, TokenScope.READ])
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(fields={"expires_at": ["Must be in the future."]})
    if not Membership.objects.for_workspace(workspace).filter(user=user).exists():
        raise ValidationFailed(fields={"user": ["Not a member of this workspace."]})
    plaintext, prefix = generate_token()
    token = ApiToken.objects.create(
        workspace=workspace, user=user, name=name, prefix=prefix, token_hash=hash_secret(plaintext),
        scopes=scope_list, expires_at=expires_at,
    )
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke (idempotent). A revoked token answers 401 from then on."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def user_get_or_create_by_email(*, email: str) -> tuple[AbstractBaseUser, bool]:
    """For operator commands: the user with this email, or a new one with an unusable password."""
    user_model = get_user_model()
    email = email.strip().lower()
    user = user_model.objects.filter(email__iexact=email).order_by("id").first()
    if user is not None:
        return user, False
    username = email
    if user_model.objects.filter(username=username).exists():
        username = f"{email}-{secrets.token_hex(3)}"
    user = user_model.objects.create_user(username=username, email=email)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user, True
