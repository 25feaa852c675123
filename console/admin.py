"""The audit log: Django's admin LogEntry, browsable and read-only.

Every console action (sentinel.admin_actions) writes one entry per object: who, when, which
object, what happened and the operator's reason. Entries are never edited or deleted here.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.http import HttpRequest
from django.urls import NoReverseMatch

from sentinel.admin_actions import admin_link


@admin.register(LogEntry)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("action_time", "user", "action_flag", "content_type", "object_link", "change_message")
    list_filter = ("action_flag", "content_type", ("user", admin.RelatedOnlyFieldListFilter), "action_time")
    search_fields = ("=object_id", "object_repr", "change_message", "user__username")
    date_hierarchy = "action_time"
    list_select_related = ("user", "content_type")
    ordering = ("-action_time", "-id")

    def get_readonly_fields(self, request: HttpRequest, obj: LogEntry | None = None) -> list[str]:
        return [f.name for f in LogEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LogEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LogEntry | None = None) -> bool:
        return False

    @admin.display(description="object")
    def object_link(self, obj: LogEntry) -> str:
        try:
            url = obj.get_admin_url()
        except NoReverseMatch:
            url = ""
        return admin_link(url, obj.object_repr)
