"""Storing a webhook delivery as the intake receives it: one statement on the hot path.

On PostgreSQL, `store_delivery` hands the body to jsonb as received and lets the database parse
and validate it (once: the view never parses it in Python) in one `INSERT ... ON CONFLICT DO
NOTHING`, where the unique index on `delivery_id` decides between concurrent repeats (no
read-then-write race). A body that does not open as an object, or that jsonb refuses (not JSON,
or JSON jsonb cannot store, such as a `\\u0000` escape), is stored as `rejected` with the reason.
`action` and `installation_id` are filled in by routing, which parses the payload anyway.

Other databases (SQLite under `make run`) take the portable path: `json.loads` and the ORM.
"""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from integrations.models import DeliveryStatus, SourceProvider, WebhookDelivery

EXCERPT_CHARS = 2000


@dataclass(frozen=True)
class StoredDelivery:
    """The outcome: `pk` of a new `received` row, or why the body was refused, or neither (a repeat)."""

    pk: int | None = None
    rejected_because: str = ""


def _table() -> str:
    return WebhookDelivery._meta.db_table


_COLUMNS = (
    "provider, delivery_id, event, action, hook_id, installation_id, status, reason, payload, "
    "body_excerpt, received_at, correlation_id"
)


def insert_delivery(
    *,
    delivery_id: str,
    event: str,
    action: str,
    hook_id: str,
    installation_id: int | None,
    status: str,
    payload_json: str | None,
    reason: str = "",
    body_excerpt: str = "",
) -> int | None:
    """Insert a delivery whose fields are already known. Returns the new row's id, or None for a repeat."""
    if connection.vendor != "postgresql":
        payload = json.loads(payload_json) if payload_json is not None else None
        return _orm_insert(delivery_id=delivery_id, event=event, action=action, hook_id=hook_id,
                           installation_id=installation_id, status=status, payload=payload, reason=reason,
                           body_excerpt=body_excerpt)
    sql = (
        f"INSERT INTO {_table()} ({_COLUMNS}) "  # noqa: S608 - table name from the model, values bound
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s) "
        "ON CONFLICT (delivery_id) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SourceProvider.GITHUB, delivery_id, event, action, hook_id, installation_id, status,
                             reason, payload_json, body_excerpt, timezone.now(), delivery_id])
        row = cursor.fetchone()
    return row[0] if row else None


# JSON whitespace, then the brace that opens an object. A JSON text is a single value, so text that
# PostgreSQL accepts as JSON and that starts this way is an object: the hot path checks the first
# bytes here and lets jsonb do the one full parse. (Asking PostgreSQL for jsonb_typeof in the same
# INSERT measured dearer: the planner evaluates the cast once per reference.)
_OBJECT_START = re.compile(rb"[ \t\r\n]*\{")
_JSON_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
               type(None): "null"}


def store_delivery(*, delivery_id: str, event: str, hook_id: str, body: bytes) -> StoredDelivery:
    """Store a signed delivery: `received` when its body is a JSON object, else `rejected` with the reason."""
    try:
        text = body.decode("utf-8")  # GitHub sends UTF-8; jsonb takes text
    except UnicodeDecodeError as exc:
        return _reject(delivery_id=delivery_id, event=event, hook_id=hook_id, body=body, reason=f"malformed JSON: {exc}")
    if not _OBJECT_START.match(body):
        return _reject(delivery_id=delivery_id, event=event, hook_id=hook_id, body=body, reason=_not_an_object(text))
    if connection.vendor != "postgresql":
        return _store_portable(delivery_id=delivery_id, event=event, hook_id=hook_id, text=text, body=body)

    # A refused cast aborts the surrounding transaction, if there is one (tests, or a caller's
    # atomic block): a savepoint keeps it usable. The intake itself runs in autocommit, where a
    # savepoint would cost two more round trips for nothing.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with guard:
            pk = insert_delivery(delivery_id=delivery_id, event=event, action="", hook_id=hook_id,
                                 installation_id=None, status=DeliveryStatus.RECEIVED, payload_json=text)
    except DataError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _reject(delivery_id=delivery_id, event=event, hook_id=hook_id, body=body, reason=f"malformed JSON: {detail}")
    return StoredDelivery(pk=pk)


def _not_an_object(text: str) -> str:
    """The rejection reason for a body that does not open with `{` (rare: parsing it again is fine)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"malformed JSON: {exc}"
    return f"malformed JSON: the body is a JSON {_JSON_KINDS.get(type(value), 'value')}, not an object"


def _store_portable(*, delivery_id: str, event: str, hook_id: str, text: str, body: bytes) -> StoredDelivery:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return _reject(delivery_id=delivery_id, event=event, hook_id=hook_id, body=body, reason=f"malformed JSON: {exc}")
    pk = _orm_insert(delivery_id=delivery_id, event=event, action="", hook_id=hook_id, installation_id=None,
                     status=DeliveryStatus.RECEIVED, payload=payload)
    return StoredDelivery(pk=pk)


def _orm_insert(*, payload: Any, **fields: Any) -> int | None:
    try:
        with transaction.atomic():
            row = WebhookDelivery.objects.create(
                provider=SourceProvider.GITHUB, payload=payload, correlation_id=fields["delivery_id"], **fields
            )
    except IntegrityError:
        return None  # the unique delivery id: a repeat
    return row.pk


def _reject(*, delivery_id: str, event: str, hook_id: str, body: bytes, reason: str) -> StoredDelivery:
    insert_delivery(
        delivery_id=delivery_id,
        event=event,
        action="",
        hook_id=hook_id,
        installation_id=None,
        status=DeliveryStatus.REJECTED,
        payload_json=None,
        reason=reason[:1000],
        # jsonb refuses NUL and PostgreSQL text too: an excerpt must not fail the rejection itself.
        body_excerpt=body[:EXCERPT_CHARS].decode("utf-8", "replace").replace("\x00", "\ufffd"),
    )
    return StoredDelivery(rejected_because=reason[:1000])
