"""/api/v1/ routes of the integrations app (mounted by sentinel/urls.py)."""

urlpatterns: list = []
