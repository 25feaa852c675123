"""Permission classes. The defaults (settings) are `IsAuthenticated` + `TokenScopePermission`;
workspace-scoped views add `WorkspaceRolePermission` (see `workspaces.api.base`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission

from workspaces.models import ApiToken, Role

if TYPE_CHECKING:  # runtime imports would be circular (DRF settings import these modules)
    from rest_framework.request import Request
    from rest_framework.views import APIView


class TokenScopePermission(BasePermission):
    """A token without the `write` scope may only read: writes answer 403."""

    message = "This API token is read-only."

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken) and request.method not in SAFE_METHODS:
            return token.allows_write()
        return True


class SessionOnlyPermission(BasePermission):
    """For actions a token must not perform (minting tokens, creating workspaces)."""

    message = "This action needs a signed-in user, not an API token."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return not isinstance(getattr(request, "auth", None), ApiToken)


class WorkspaceRolePermission(BasePermission):
    """The member's role must reach the view's `required_role()` for this request.

    By default: viewers read (safe methods), members write. Views tune it with `read_role`,
    `write_role` and per-action `action_roles = {"destroy": Role.ADMIN}`.
    """

    message = "Your role in this workspace does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        membership = getattr(view, "membership", None)
        if membership is None:  # the view resolves it before permissions run; absent means misuse
            return False
        return membership.has_role(view.required_role(request))  # type: ignore[attr-defined]  # WorkspaceScopedMixin


__all__ = ["Role", "SessionOnlyPermission", "TokenScopePermission", "WorkspaceRolePermission"]
