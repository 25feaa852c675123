"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with rotation through MultiFernet.

`SENTINEL_ENCRYPTION_KEY` holds one or more Fernet keys, comma-separated, **newest first**: the
first encrypts, all decrypt. To rotate: put a new key in front, deploy, run
`manage.py rotate_provider_keys` (re-encrypts every stored secret with the first key), then drop
the old key. With no key set, DEBUG (and only DEBUG) derives one from SECRET_KEY so `make run`
works; anywhere else storing a secret refuses with ImproperlyConfigured.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet", "rotate"]

_cache: dict[str, MultiFernet] = {}


def _configured_keys() -> list[str]:
    raw = getattr(settings, "SENTINEL_ENCRYPTION_KEY", "") or ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if keys:
        return keys
    if settings.DEBUG:
        # Development convenience only: a stable key derived from SECRET_KEY.
        digest = hashlib.sha256(f"sentinel-dev-fernet:{settings.SECRET_KEY}".encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    raise ImproperlyConfigured(
        "SENTINEL_ENCRYPTION_KEY must be set to store provider keys. Generate one with: "
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    )


def fernet() -> MultiFernet:
    keys = _configured_keys()
    cache_key = ",".join(keys)
    instance = _cache.get(cache_key)
    if instance is None:
        try:
            instance = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError:
            raise ImproperlyConfigured(
                "SENTINEL_ENCRYPTION_KEY must be comma-separated url-safe base64 Fernet keys (32 bytes each)."
            ) from None
        _cache.clear()
        _cache[cache_key] = instance
    return instance


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Raises `InvalidToken` when no configured key can decrypt it (e.g. a key was dropped too early)."""
    return fernet().decrypt(token.encode("ascii")).decode("utf-8")


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate keeps the original timestamp)."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")
