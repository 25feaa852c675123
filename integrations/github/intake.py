"""`POST /webhooks/github`: verify, store, queue. No external calls, no AI, answers fast.

Order of checks (each answer carries the correlation id, which is the delivery id when known):

1. body over GITHUB_WEBHOOK_MAX_BYTES (25 MB) -> 413, judged from Content-Length before reading,
   and by reading at most one byte past the limit when the length is not declared;
2. `X-Hub-Signature-256` checked with `hmac.compare_digest` against GITHUB_WEBHOOK_SECRET -> 401,
   nothing stored (an unauthenticated caller learns nothing and costs us no row);
3. missing `X-GitHub-Event` / `X-GitHub-Delivery` -> 400;
4. body that is not a JSON object (signature valid) -> 400, stored as `rejected`;
5. a delivery id already stored -> 200, nothing queued;
6. otherwise the delivery row is inserted and ProcessWebhookEvent queued on `webhooks` -> 202.

Storing is one statement (`deliveries.store_delivery`): PostgreSQL parses the body as jsonb, checks
it is an object, extracts action and installation id, and the unique index on `delivery_id`
decides between concurrent repeats. The job is queued in one Redis round trip (the row is new, so
no job for it can exist). If Redis refuses the job the delivery is already durable: it stays
`received` and the per-minute `requeue_stranded_deliveries` job queues it again. Every step here
is paid per delivery; `bench/bench_webhook_intake.py` measures it against the floor.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.github import signatures
from integrations.github.deliveries import store_delivery
from sentinel.correlation import bind_correlation_id, clean_correlation_id

log = structlog.get_logger("integrations.github.intake")

EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
SIGNATURE_HEADER = "X-Hub-Signature-256"
HOOK_ID_HEADER = "X-GitHub-Hook-ID"
CORRELATION_HEADER = "X-Correlation-ID"


def _answer(request: HttpRequest, status: int, body: dict[str, Any], *, correlation_id: str | None = None) -> JsonResponse:
    cid = correlation_id or getattr(request, "correlation_id", None) or ""
    if correlation_id:
        # The correlation middleware echoes request.correlation_id as X-Request-ID.
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        bind_correlation_id(correlation_id)
    response = JsonResponse({**body, "correlation_id": cid}, status=status)
    response[CORRELATION_HEADER] = cid
    return response


def _error(request: HttpRequest, status: int, code: str, message: str, *, correlation_id: str | None = None) -> JsonResponse:
    return _answer(request, status, {"error": {"code": code, "message": message}}, correlation_id=correlation_id)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is over `limit` bytes (never reads more than limit + 1)."""
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            if int(declared) > limit:
                return None
        except ValueError:
            pass
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> JsonResponse:
    body = _read_body(request, settings.GITHUB_WEBHOOK_MAX_BYTES)
    if body is None:
        log.warning("webhook.too_large", limit=settings.GITHUB_WEBHOOK_MAX_BYTES)
        return _error(request, 413, "payload_too_large", "The delivery body is over the size limit.")

    if not signatures.verify(settings.GITHUB_WEBHOOK_SECRET, body, request.headers.get(SIGNATURE_HEADER)):
        log.warning("webhook.bad_signature")
        return _error(request, 401, "bad_signature", "The X-Hub-Signature-256 signature does not match.")

    event = request.headers.get(EVENT_HEADER, "").strip()
    raw_delivery = request.headers.get(DELIVERY_HEADER, "").strip()
    if not event or not raw_delivery:
        return _error(request, 400, "missing_headers", f"{EVENT_HEADER} and {DELIVERY_HEADER} are required.")
    if len(raw_delivery) > 128 or len(event) > 64:
        return _error(request, 400, "invalid_headers", "Delivery id or event name is too long.")
    delivery_id = raw_delivery
    correlation_id = clean_correlation_id(delivery_id)
    hook_id = request.headers.get(HOOK_ID_HEADER, "")[:64]

    stored = store_delivery(delivery_id=delivery_id, event=event, hook_id=hook_id, body=body)
    if stored.rejected_because:
        log.warning("webhook.rejected", delivery_id=delivery_id, github_event=event, reason=stored.rejected_because)
        return _error(request, 400, "malformed_json", "The body is not a JSON object.", correlation_id=correlation_id)
    pk = stored.pk
    if pk is None:
        log.info("webhook.duplicate", delivery_id=delivery_id, github_event=event)
        return _answer(request, 200, {"delivery_id": delivery_id, "status": "duplicate"}, correlation_id=correlation_id)

    from integrations.github.routing import queue_delivery

    try:
        queue_delivery(delivery_pk=pk, correlation_id=correlation_id, just_stored=True)
    except Exception:  # noqa: BLE001 - stored is what matters; the stranded-delivery sweep re-queues it
        log.error("webhook.enqueue_failed", delivery_id=delivery_id, exc_info=True)
    return _answer(request, 202, {"delivery_id": delivery_id, "status": "queued"}, correlation_id=correlation_id)
