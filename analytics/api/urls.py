"""/api/v1/ routes of the analytics app (mounted by sentinel/urls.py): the dashboard read API."""

from django.urls import path

from analytics.api import views

prefix = "workspaces/<slug:workspace_slug>/analytics/"

urlpatterns = [
    path(f"{prefix}overview/", views.OverviewView.as_view(), name="analytics-overview"),
    path(f"{prefix}timeseries/", views.TimeSeriesView.as_view(), name="analytics-timeseries"),
    path(f"{prefix}top-repositories/", views.TopRepositoriesView.as_view(), name="analytics-top-repositories"),
    path(f"{prefix}findings/", views.FindingsBreakdownView.as_view(), name="analytics-findings"),
]
