"""Role rules for managing members. Pure functions over memberships; services call them.

- Roles rank viewer < member < admin < owner.
- Admins and owners manage members; only owners add, change or remove owners, or make someone owner.
- Anyone may leave; the last owner may neither leave nor be demoted (a workspace always has an owner).
"""

from __future__ import annotations

from workspaces.exceptions import Conflict, Forbidden
from workspaces.models import Membership, Role


class LastOwnerError(Conflict):
    code = "last_owner"
    message = "A workspace must keep at least one owner."


def _owner_count(workspace_id: int) -> int:
    return Membership.objects.for_workspace(workspace_id).owners().count()


def check_can_add_member(*, actor: Membership, role: str) -> None:
    if not actor.has_role(Role.ADMIN):
        raise Forbidden("Only admins and owners can add members.")
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise Forbidden("Only owners can add owners.")


def check_can_change_role(*, actor: Membership, target: Membership, new_role: str) -> None:
    if not actor.has_role(Role.ADMIN):
        raise Forbidden("Only admins and owners can change roles.")
    if (target.role == Role.OWNER or new_role == Role.OWNER) and actor.role != Role.OWNER:
        raise Forbidden("Only owners can manage owners.")
    if target.role == Role.OWNER and new_role != Role.OWNER and _owner_count(target.workspace_id) <= 1:
        raise LastOwnerError("The last owner cannot be demoted; make someone else owner first.")


def check_can_remove_member(*, actor: Membership, target: Membership) -> None:
    leaving = actor.pk == target.pk
    if not leaving:
        if not actor.has_role(Role.ADMIN):
            raise Forbidden("Only admins and owners can remove members.")
        if target.role == Role.OWNER and actor.role != Role.OWNER:
            raise Forbidden("Only owners can remove owners.")
    if target.role == Role.OWNER and _owner_count(target.workspace_id) <= 1:
        raise LastOwnerError("The last owner cannot leave; make someone else owner first.")
