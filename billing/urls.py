"""Non-API routes of the billing app (mounted at the site root by sentinel/urls.py)."""

urlpatterns: list = []
