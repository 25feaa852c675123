"""Unknown URLs: JSON error bodies under /api/ and /webhooks/, Django's page elsewhere."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/webhooks/no-such-provider"])
def test_unknown_api_urls_answer_json_404(path: str) -> None:
    response = Client().get(path, HTTP_X_REQUEST_ID="req-404-test")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "request_id": "req-404-test"}
    }


def test_unknown_page_urls_keep_the_html_404() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
