from django.contrib import admin

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
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens show only their prefix; the hash is never displayed. Operators revoke, never create here
    (use `manage.py create_api_token`, which prints the secret once)."""

    list_display = ("prefix", "name", "workspace", "user", "scopes", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "workspace__slug", "user__email")
    list_select_related = ("workspace", "user")
    fields = ("prefix", "name", "workspace", "user", "scopes", "expires_at", "last_used_at", "revoked_at", "created_at")
    readonly_fields = ("prefix", "workspace", "user", "scopes", "last_used_at", "revoked_at", "created_at")
    actions = ["revoke_tokens"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001 - Django signature
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset) -> None:  # noqa: ANN001 - Django signature
        from workspaces.services import api_token_revoke

        count = 0
        for token in queryset:
            if token.revoked_at is None:
                api_token_revoke(token=token)
                count += 1
        self.message_user(request, f"Revoked {count} token(s).")
