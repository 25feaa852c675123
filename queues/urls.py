"""Non-API routes of the queues app (mounted at the site root by sentinel/urls.py)."""

from django.urls import path

from queues.views import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
]
