"""/api/v1/ routes of the billing app (mounted by sentinel/urls.py)."""

urlpatterns: list = []
