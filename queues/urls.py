"""Non-API routes of the queues app (mounted at the site root by sentinel/urls.py)."""

urlpatterns: list = []
