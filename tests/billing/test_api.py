"""Usage, Checkout and billing-portal endpoints. Stripe is a local HTTP server speaking its API
(form-encoded requests, JSON objects from tests/fixtures/stripe)."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer

from billing import services
from billing.models import Subscription
from tests.billing.factories import workspace_on
from tests.billing.stripe_helpers import load_object
from tests.workspaces.factories import add_member, session_client, token_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]


def usage_url(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/usage/"


def test_usage_shows_plan_limits_used_and_remaining() -> None:
    workspace = workspace_on("free")
    for i in range(3):
        services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key=f"review_run:{i}")
    services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key="command:1")
    services.record_usage(workspace_id=workspace.pk, metric="input_tokens", quantity=1500, idempotency_key="input_tokens:1")
    viewer = add_member(workspace, role="viewer")
    response = token_client(workspace, viewer.user, scopes=("read",)).get(usage_url(workspace))
    assert response.status_code == 200
    body = response.json()
    assert body["plan"]["name"] == "free" and body["plan"]["review_queue"] == "reviews-default"
    assert body["subscription"]["effective_plan"] == "free"
    assert body["usage"]["review_run"] == {"used": 3, "recorded": 0, "limit": 20, "remaining": 17}
    assert body["usage"]["command"] == {"used": 1, "recorded": 1, "limit": 50, "remaining": 49}
    assert body["usage"]["input_tokens"]["limit"] is None and body["usage"]["input_tokens"]["used"] == 1500
    assert body["period"]["start"] < body["period"]["end"]


def test_usage_of_unlimited_plan_has_null_limits() -> None:
    workspace = workspace_on("enterprise")
    body = session_client(workspace.owner).get(usage_url(workspace)).json()
    assert body["usage"]["review_run"]["limit"] is None and body["usage"]["review_run"]["remaining"] is None


def test_usage_of_another_workspace_is_404_with_the_shared_error_body() -> None:
    mine, theirs = workspace_on("free"), workspace_on("pro")
    response = session_client(mine.owner).get(usage_url(theirs))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unauthenticated_usage_is_401() -> None:
    from rest_framework.test import APIClient

    workspace = workspace_on("free")
    response = APIClient().get(usage_url(workspace))
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


@pytest.fixture
def stripe_api(httpserver: HTTPServer, settings) -> HTTPServer:
    settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    return httpserver


def test_checkout_creates_customer_once_and_a_subscription_session(stripe_api: HTTPServer) -> None:
    workspace = workspace_on("free")
    customer = load_object("customer") | {"id": "cus_checkout1"}
    session = load_object("checkout.session") | {"id": "cs_test_1", "url": "https://checkout.stripe.test/c/pay/cs_test_1"}
    stripe_api.expect_ordered_request("/v1/customers", method="POST").respond_with_json(customer)
    stripe_api.expect_ordered_request("/v1/checkout/sessions", method="POST").respond_with_json(session)
    response = session_client(workspace.owner).post(
        f"/api/v1/workspaces/{workspace.slug}/billing/checkout/", {"plan": "team"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json() == {"id": "cs_test_1", "url": "https://checkout.stripe.test/c/pay/cs_test_1"}
    stripe_api.check_assertions()
    (customer_req, _), (checkout_req, _) = stripe_api.log
    assert customer_req.headers["Authorization"] == "Bearer sk_test_sentinel"
    assert customer_req.headers["Idempotency-Key"] == f"sentinel-customer-{workspace.pk}"
    form = parse_qs(checkout_req.get_data(as_text=True))
    assert form["mode"] == ["subscription"]
    assert form["customer"] == ["cus_checkout1"]
    assert form["client_reference_id"] == [str(workspace.pk)]
    assert form["line_items[0][price]"] == ["price_test_team"]
    assert form["subscription_data[metadata][plan]"] == ["team"]
    assert form["subscription_data[metadata][workspace_id]"] == [str(workspace.pk)]
    assert Subscription.objects.get(workspace=workspace).stripe_customer_id == "cus_checkout1"


def test_checkout_needs_admin_and_a_paid_plan(stripe_api: HTTPServer) -> None:
    workspace = workspace_on("free")
    member = add_member(workspace, role="member")
    url = f"/api/v1/workspaces/{workspace.slug}/billing/checkout/"
    assert session_client(member.user).post(url, {"plan": "pro"}, format="json").status_code == 403
    bad = session_client(workspace.owner).post(url, {"plan": "free"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    assert not stripe_api.log


def test_checkout_when_stripe_fails_is_502_without_secrets(stripe_api: HTTPServer) -> None:
    workspace = workspace_on("free")
    Subscription.objects.filter(workspace=workspace).update(stripe_customer_id="cus_known")
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"error": {"type": "api_error", "message": "boom"}}, status=500
    )
    response = session_client(workspace.owner).post(
        f"/api/v1/workspaces/{workspace.slug}/billing/checkout/", {"plan": "pro"}, format="json"
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "billing_provider_error"
    assert "sk_test" not in response.content.decode()


def test_portal_returns_the_session_url(stripe_api: HTTPServer) -> None:
    workspace = workspace_on("free")
    url = f"/api/v1/workspaces/{workspace.slug}/billing/portal/"
    no_account = session_client(workspace.owner).post(url)
    assert no_account.status_code == 409 and no_account.json()["error"]["code"] == "no_billing_account"
    Subscription.objects.filter(workspace=workspace).update(stripe_customer_id="cus_portal")
    portal = load_object("billing_portal.session") | {"id": "bps_1", "url": "https://billing.stripe.test/p/session/bps_1"}
    stripe_api.expect_request("/v1/billing_portal/sessions", method="POST").respond_with_json(portal)
    response = session_client(workspace.owner).post(url)
    assert response.status_code == 201
    assert response.json()["url"] == "https://billing.stripe.test/p/session/bps_1"
    (request, _), = stripe_api.log
    assert parse_qs(request.get_data(as_text=True))["customer"] == ["cus_portal"]
