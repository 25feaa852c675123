"""/api/v1/ routes of the billing app (mounted by sentinel/urls.py)."""

from django.urls import path

from billing.api import views

urlpatterns = [
    path("workspaces/<slug:workspace_slug>/usage/", views.UsageView.as_view(), name="workspace-usage"),
    path(
        "workspaces/<slug:workspace_slug>/billing/checkout/",
        views.CheckoutSessionView.as_view(),
        name="workspace-billing-checkout",
    ),
    path(
        "workspaces/<slug:workspace_slug>/billing/portal/",
        views.PortalSessionView.as_view(),
        name="workspace-billing-portal",
    ),
]
