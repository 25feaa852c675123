"""Non-API routes of the billing app (mounted at the site root by sentinel/urls.py)."""

from django.urls import path

from billing import views

urlpatterns = [
    path("webhooks/stripe", views.stripe_webhook, name="stripe-webhook"),
]
