"""/api/v1/ routes of the analytics app (mounted by sentinel/urls.py)."""

urlpatterns: list = []
