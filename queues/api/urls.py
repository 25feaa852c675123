"""/api/v1/ routes of the queues app (mounted by sentinel/urls.py)."""

urlpatterns: list = []
