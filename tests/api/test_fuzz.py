"""Property-based fuzz of the whole API: schemathesis generates requests from the OpenAPI schema
(every app's endpoints, discovered, so new ones join automatically) and none may crash: no 500, and
a 502/503/504 only as a deliberate JSON error naming what is unavailable (e.g. Stripe not configured).

Requests run in-process through Django's test client as the owner of a real workspace, with the
workspace slug filled in so the generated data reaches the views instead of stopping at a 404.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet

from tests.conftest import clear_throttle_buckets
from tests.workspaces.factories import make_user, make_workspace
from workspaces import services

pytestmark = pytest.mark.django_db

# The fuzzing phase only: schemathesis' coverage phase adds dozens of explicit boundary cases per
# operation, which multiplies the suite's time without finding crash classes the fuzzing misses.
FUZZ_ONLY = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}, "examples": {"enabled": False}}}
)
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=FUZZ_ONLY
)


@pytest.fixture
def owner_client() -> tuple[APIClient, str]:
    owner = make_user("fuzz-owner")
    workspace = make_workspace(owner)
    _, plaintext = services.api_token_create(
        workspace=workspace, user=owner, name="fuzz", scopes=("read", "write")
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client, workspace.slug


def _send(client: APIClient, case: Any, slug: str) -> Any:
    path_parameters = dict(case.path_parameters or {})
    if "workspace_slug" in path_parameters:
        path_parameters["workspace_slug"] = slug
    path = case.path
    for name, value in path_parameters.items():
        path = path.replace("{" + name + "}", str(value))
    kwargs: dict[str, Any] = {}
    body = case.body
    if body is not None and not isinstance(body, NotSet) and case.method.upper() in {"POST", "PUT", "PATCH"}:
        media_type = case.media_type or "application/json"
        if isinstance(body, bytes):
            kwargs["data"], kwargs["content_type"] = body, media_type
        elif "json" in media_type or not isinstance(body, dict):
            kwargs["data"], kwargs["content_type"] = json.dumps(body), "application/json"
        else:
            kwargs["data"] = body  # form / multipart: the test client encodes it
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    method = getattr(client, case.method.lower())
    if case.method.upper() == "GET":
        return method(path, query, **kwargs)
    if query:
        from urllib.parse import urlencode

        path = f"{path}?{urlencode(query, doseq=True)}"
    return method(path, **kwargs)


DELIBERATE_UNAVAILABLE = {502, 503, 504}


# Six examples per operation keeps the walk over every endpoint of every app near a minute; the
# schema-derived cross-tenant walk (tests/workspaces) covers the authorisation side.
@schema.parametrize()
@hypothesis_settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_generated_request_gets_a_server_error(case: Any, owner_client: tuple[APIClient, str]) -> None:
    client, slug = owner_client
    if case.method.lower() not in {"get", "post", "put", "patch", "delete"}:
        return  # schemathesis may also probe e.g. QUERY; the API serves only these
    clear_throttle_buckets()
    response = _send(client, case, slug)
    if response.status_code in DELIBERATE_UNAVAILABLE:
        # 502/503/504 are answers, not crashes, when they name the upstream or setting at fault.
        assert response["Content-Type"] == "application/json", response.content[:300]
        assert response.json()["error"]["code"], response.content[:300]
        return
    assert response.status_code < 500, (
        f"{case.method} {case.path}: {response.status_code} {response.content[:500]!r}"
    )
