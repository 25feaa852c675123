"""GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body` signed with `secret`."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when `header_value` is the signature of `body`. Constant-time; False without a secret.

    An unset secret never verifies: an intake that accepts unsigned deliveries would let anyone
    trigger reviews and spend a tenant's AI budget.
    """
    if not secret or not header_value:
        return False
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), header_value.strip().encode("utf-8", "replace"))
