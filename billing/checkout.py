"""Stripe Checkout and billing-portal sessions (synchronous Stripe API calls from the API request:
the customer is waiting for the URL). The Stripe base URL comes from `STRIPE_API_BASE`, so tests
and stripe-mock style servers can stand in for api.stripe.com."""

from __future__ import annotations

import stripe
import structlog
from django.conf import settings
from django.db import transaction

from billing import plans
from billing.models import Subscription
from billing.services import ensure_subscription
from workspaces.exceptions import ApplicationError, Conflict, ValidationFailed
from workspaces.models import Workspace

log = structlog.get_logger(__name__)


class BillingNotConfigured(ApplicationError):
    status_code = 503
    code = "billing_not_configured"
    message = "Billing is not configured on this server."


class BillingProviderError(ApplicationError):
    status_code = 502
    code = "billing_provider_error"
    message = "The billing provider could not be reached. Try again shortly."


def client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise BillingNotConfigured()
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=1,
    )


def _customer_id(workspace: Workspace, stripe_client: stripe.StripeClient, email: str) -> str:
    """The workspace's Stripe customer, created on first use (idempotently per workspace)."""
    subscription = ensure_subscription(workspace_id=workspace.pk)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    customer = stripe_client.v1.customers.create(
        params={"name": workspace.name, "email": email or None, "metadata": {"workspace_id": str(workspace.pk)}},
        options={"idempotency_key": f"sentinel-customer-{workspace.pk}"},
    )
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not locked.stripe_customer_id:
            locked.stripe_customer_id = customer.id
            locked.save(update_fields=["stripe_customer_id", "updated_at"])
        return locked.stripe_customer_id


def create_checkout_session(*, workspace: Workspace, plan: str, email: str = "") -> dict[str, str]:
    """A Stripe Checkout session selling `plan` to the workspace. Returns {id, url}."""
    if plan not in plans.PLAN_NAMES or plan == plans.FREE:
        raise ValidationFailed(fields={"plan": [f"Choose a paid plan: {', '.join(plans.PLAN_NAMES[1:])}."]})
    price = settings.BILLING_STRIPE_PRICES.get(plan) or ""
    if not price:
        raise BillingNotConfigured(f"No Stripe price is configured for the {plan} plan (STRIPE_PRICE_{plan.upper()}).")
    current = ensure_subscription(workspace_id=workspace.pk)
    if current.stripe_subscription_id and current.status != "canceled":
        raise Conflict(
            "The workspace already has a Stripe subscription; change plans in the billing portal.",
            code="subscription_exists",
        )
    stripe_client = client()
    try:
        customer = _customer_id(workspace, stripe_client, email)
        session = stripe_client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer,
                "client_reference_id": str(workspace.pk),
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": settings.BILLING_CHECKOUT_SUCCESS_URL,
                "cancel_url": settings.BILLING_CHECKOUT_CANCEL_URL,
                "subscription_data": {"metadata": {"workspace_id": str(workspace.pk), "plan": plan}},
                "metadata": {"workspace_id": str(workspace.pk), "plan": plan},
            }
        )
    except stripe.StripeError as exc:
        log.warning("stripe.checkout_failed", workspace_id=workspace.pk, error=type(exc).__name__, status=exc.http_status)
        raise BillingProviderError() from None
    log.info("stripe.checkout_created", workspace_id=workspace.pk, plan=plan, session_id=session.id)
    return {"id": session.id, "url": session.url}


def create_portal_session(*, workspace: Workspace) -> dict[str, str]:
    """A Stripe billing-portal session for the workspace's customer. Returns {id, url}."""
    subscription = ensure_subscription(workspace_id=workspace.pk)
    if not subscription.stripe_customer_id:
        raise Conflict("The workspace has no billing account yet; subscribe through Checkout first.", code="no_billing_account")
    stripe_client = client()
    try:
        session = stripe_client.v1.billing_portal.sessions.create(
            params={"customer": subscription.stripe_customer_id, "return_url": settings.BILLING_PORTAL_RETURN_URL}
        )
    except stripe.StripeError as exc:
        log.warning("stripe.portal_failed", workspace_id=workspace.pk, error=type(exc).__name__, status=exc.http_status)
        raise BillingProviderError() from None
    return {"id": session.id, "url": session.url}
