"""The console's own pages, mounted under /admin/operations/ (sentinel/urls.py), staff-only through admin_view."""

from django.contrib import admin
from django.urls import path
from django.views.decorators.cache import never_cache

from console import views

urlpatterns = [
    path("", admin.site.admin_view(never_cache(views.operations_dashboard)), name="operations-dashboard"),
    path("trace/", admin.site.admin_view(views.trace), name="operations-trace"),
]
