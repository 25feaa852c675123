from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class DefaultPagination(PageNumberPagination):
    """`?page=N&page_size=M` (max 100). Bodies: {count, next, previous, results}."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
