"""Non-API routes of the integrations app (mounted at the site root by sentinel/urls.py)."""

from django.urls import path

from integrations.github.intake import github_webhook

urlpatterns: list = [
    path("webhooks/github", github_webhook, name="github-webhook"),
]
