"""`POST /webhooks/stripe`: verify, store once, queue; answer fast (no processing in the request)."""

from __future__ import annotations

import structlog
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.webhooks import InvalidStripeSignature, StripeNotConfigured, receive_stripe_event

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Stripe events are a few KB


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse({"error": {"code": "too_large", "message": "Body too large."}}, status=413)
    try:
        event, created = receive_stripe_event(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except StripeNotConfigured:
        log.error("stripe.webhook_not_configured")
        return JsonResponse({"error": {"code": "billing_not_configured", "message": "Stripe is not configured."}}, status=503)
    except InvalidStripeSignature as exc:
        log.warning("stripe.webhook_rejected", reason=str(exc)[:200])
        return JsonResponse({"error": {"code": "invalid_signature", "message": "Invalid Stripe signature."}}, status=400)
    return JsonResponse({"received": True, "duplicate": not created, "event": event.event_id}, status=200)
