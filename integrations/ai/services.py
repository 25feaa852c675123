"""Writes on BYOK provider keys. API views, the admin, jobs and the review engine all come here.

The plaintext secret enters only `provider_key_create` and leaves only through
`ProviderKey.reveal()` into a provider object for one call. Nothing here logs, returns or raises
it: events name the key by id, provider and masked last four characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations import crypto
from integrations.ai.base import Credentials
from integrations.ai.egress import EgressBlocked, check_destination
from integrations.ai.errors import AuthFailed, ProviderError, ServerError
from integrations.ai.redaction import scrub_secrets
from integrations.ai.registry import build_provider
from integrations.models import AIProvider, ProviderKey, ProviderKeyStatus
from integrations.signals import provider_key_invalidated
from workspaces.exceptions import ApplicationError, Conflict, ValidationFailed
from workspaces.models import Workspace

log = structlog.get_logger(__name__)


class ProviderKeyRejected(ApplicationError):
    status_code = 400
    code = "provider_key_rejected"
    message = "The provider rejected this key."


class ProviderUnreachable(ApplicationError):
    status_code = 400
    code = "provider_unreachable"
    message = "Nothing answered at the provider's address; check the base URL."


class ProviderUnavailable(ApplicationError):
    status_code = 502
    code = "provider_unavailable"
    message = "The provider could not be reached to check the key; try again later."


@dataclass(frozen=True)
class KeyTestResult:
    ok: bool
    status: str
    error: dict[str, Any] | None = None


def _credentials(key: ProviderKey, secret: str | None = None) -> Credentials:
    return Credentials(
        api_key=secret if secret is not None else key.reveal(),
        base_url=key.base_url,
        byok=True,
        key_id=key.pk,
    )


def _check(provider: str, credentials: Credentials, model: str) -> None:
    build_provider(provider, credentials).validate_credentials(model=model)


def provider_key_create(
    *,
    workspace: Workspace,
    actor: Any,
    provider: str,
    label: str,
    secret: str,
    base_url: str = "",
    default_model: str = "",
    validate: bool = False,
) -> ProviderKey:
    """Store a key encrypted. With `validate`, a cheap provider call must accept it first.

    Raises `ProviderKeyRejected` (the provider said 401/403 or refused the request),
    `ProviderUnavailable` (it could not answer), `Conflict` (label taken), `ValidationFailed`.
    """
    secret = (secret or "").strip()
    if provider not in AIProvider.values:
        raise ValidationFailed(fields={"provider": [f"Choose one of: {', '.join(AIProvider.values)}."]})
    if len(secret) < 8:
        raise ValidationFailed(fields={"secret": ["The key is too short."]})
    if base_url.strip():  # the official APIs need no check here; calls are checked when made
        try:
            check_destination(provider, base_url.strip())
        except EgressBlocked as exc:
            raise ValidationFailed(fields={"base_url": [exc.message]}) from None
    validated_at = None
    if validate:
        credentials = Credentials(api_key=secret, base_url=base_url, byok=True)
        try:
            _check(provider, credentials, default_model)
        except EgressBlocked as exc:
            raise ValidationFailed(fields={"base_url": [exc.message]}) from None
        except AuthFailed as exc:
            raise ProviderKeyRejected(extra={"provider_error": exc.as_dict()}) from None
        except ProviderError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                raise ProviderKeyRejected(extra={"provider_error": exc.as_dict()}) from None
            if isinstance(exc, ServerError) and exc.status is None:
                # Nothing answered at that address: most likely a wrong base URL, the caller's to fix.
                raise ProviderUnreachable(extra={"provider_error": exc.as_dict()}) from None
            raise ProviderUnavailable(extra={"provider_error": exc.as_dict()}) from None
        validated_at = timezone.now()
    key = ProviderKey(
        workspace=workspace,
        provider=provider,
        label=label.strip(),
        base_url=base_url.strip(),
        default_model=default_model.strip(),
        encrypted_secret=crypto.encrypt(secret),
        last4=secret[-4:],
        status=ProviderKeyStatus.ACTIVE,
        last_validated_at=validated_at,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    try:
        with transaction.atomic():
            key.save()
    except IntegrityError:
        raise Conflict(
            f"A {provider} key labelled {label!r} already exists in this workspace.", code="duplicate_label"
        ) from None
    log.info(
        "provider_key.created",
        workspace_id=workspace.pk,
        key_id=key.pk,
        provider=provider,
        masked=key.masked,
        validated=validate,
        actor_id=getattr(actor, "pk", None),
    )
    return key


def provider_key_delete(*, key: ProviderKey, actor: Any) -> None:
    key_id, workspace_id, provider = key.pk, key.workspace_id, key.provider
    key.delete()
    log.info(
        "provider_key.deleted",
        workspace_id=workspace_id,
        key_id=key_id,
        provider=provider,
        actor_id=getattr(actor, "pk", None),
    )


def provider_key_test(*, key: ProviderKey, actor: Any = None) -> KeyTestResult:
    """Check the key with a cheap call and record the outcome on the key.

    An auth failure marks it invalid (and tells the workspace); a success makes an invalid key
    active again; a transient failure changes nothing.
    """
    try:
        _check(key.provider, _credentials(key), key.default_model)
    except AuthFailed as exc:
        provider_key_mark_invalid(key_id=key.pk, workspace_id=key.workspace_id, error=exc)
        key.refresh_from_db()
        return KeyTestResult(ok=False, status=key.status, error=exc.as_dict())
    except ProviderError as exc:
        return KeyTestResult(ok=False, status=key.status, error=exc.as_dict())
    ProviderKey.objects.filter(pk=key.pk).update(
        status=ProviderKeyStatus.ACTIVE,
        last_error="",
        last_validated_at=timezone.now(),
        updated_at=timezone.now(),
    )
    key.refresh_from_db()
    log.info(
        "provider_key.tested", workspace_id=key.workspace_id, key_id=key.pk, provider=key.provider, ok=True
    )
    return KeyTestResult(ok=True, status=key.status)


def provider_key_mark_invalid(*, key_id: int, workspace_id: int, error: ProviderError) -> bool:
    """Mark an active key invalid after the provider rejected it; returns True if it changed.

    Sends `integrations.signals.provider_key_invalidated` after commit (once per transition).
    """
    message = scrub_secrets(f"{error.code}: {error.message}")[:500]
    with transaction.atomic():
        changed = (
            ProviderKey.objects.for_workspace(workspace_id)
            .filter(pk=key_id, status=ProviderKeyStatus.ACTIVE)
            .update(status=ProviderKeyStatus.INVALID, last_error=message, updated_at=timezone.now())
        )
        if changed:
            provider = ProviderKey.objects.filter(pk=key_id).values_list("provider", flat=True).first() or ""
            transaction.on_commit(
                lambda: provider_key_invalidated.send(
                    sender=ProviderKey, workspace_id=workspace_id, provider=provider, key_id=key_id
                )
            )
    if changed:
        log.warning(
            "provider_key.invalidated",
            workspace_id=workspace_id,
            key_id=key_id,
            provider=error.provider,
            status=error.status,
        )
    return bool(changed)


def provider_key_mark_used(*, key_id: int) -> None:
    ProviderKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


def provider_keys_rotate_encryption() -> int:
    """Re-encrypt every stored secret with the newest `SENTINEL_ENCRYPTION_KEY`; returns the count."""
    count = 0
    for key_id in ProviderKey.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            key = ProviderKey.objects.select_for_update().get(pk=key_id)
            key.encrypted_secret = crypto.rotate(key.encrypted_secret)
            key.save(update_fields=["encrypted_secret", "updated_at"])
            count += 1
    log.info("provider_key.rotated", count=count)
    return count
