"""/api/v1/ routes of the workspaces app (mounted by sentinel/urls.py)."""

urlpatterns: list = []
