"""Non-API routes of the integrations app (mounted at the site root by sentinel/urls.py)."""

urlpatterns: list = []
