from django.contrib import admin

from sentinel.admin_actions import ConsoleActionsMixin, console_action
from workspaces.models import ApiToken, Invitation, Membership, Team, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "owner", "created_at")
    search_fields = ("slug", "name", "owner__email", "owner__username")
    raw_id_fields = ("owner",)
    list_select_related = ("owner",)
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__username", "workspace__slug")
    raw_id_fields = ("user", "workspace")
    list_select_related = ("user", "workspace")
    filter_horizontal = ("teams",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "created_at")
    search_fields = ("name", "workspace__slug")
    raw_id_fields = ("workspace",)
    list_select_related = ("workspace",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "workspace", "role", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("email", "workspace__slug")
    raw_id_fields = ("workspace", "invited_by", "accepted_by")
    list_select_related = ("workspace",)
    # token_hash is never shown; invitations are created through the API (the token goes to the invitee).
    exclude = ("token_hash",)
    readonly_fields = ("accepted_at", "accepted_by", "created_at")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001 - Django signature
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(ConsoleActionsMixin, admin.ModelAdmin):
    """Tokens show only their prefix; the hash is never displayed. Operators revoke, never create here
    (use `manage.py create_api_token`, which prints the secret once)."""

    list_display = ("prefix", "name", "workspace", "user", "scopes", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "workspace__slug", "user__email")
    list_select_related = ("workspace", "user")
    fields = ("prefix", "name", "workspace", "user", "scopes", "expires_at", "last_used_at", "revoked_at", "created_at")
    readonly_fields = ("prefix", "workspace", "user", "scopes", "last_used_at", "revoked_at", "created_at")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001 - Django signature
        return False

    @console_action(
        label="Revoke",
        description="Each token stops working at once (401 from then on). Revoking cannot be undone: the "
        "owner creates a new token.",
        destructive=True,
        ask_reason=True,
        summary_fields=("workspace",),
        skip_if=lambda token: "already revoked" if token.revoked_at else None,
    )
    def revoke_tokens(self, request, obj: ApiToken, note: str) -> str:  # noqa: ANN001 - Django signature
        from workspaces.services import api_token_revoke

        api_token_revoke(token=obj)
        return f"token {obj.prefix}… revoked"
