"""/api/v1/ routes of the reviews app (mounted by sentinel/urls.py)."""

urlpatterns: list = []
