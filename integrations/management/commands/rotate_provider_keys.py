"""Re-encrypt every stored BYOK provider key with the newest SENTINEL_ENCRYPTION_KEY.

Rotation: put the new Fernet key first in SENTINEL_ENCRYPTION_KEY (keep the old one after it),
deploy, run this command, then remove the old key. Safe to run again (idempotent).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from integrations.ai.services import provider_keys_rotate_encryption


class Command(BaseCommand):
    help = "Re-encrypt all BYOK provider keys with the first (newest) SENTINEL_ENCRYPTION_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        count = provider_keys_rotate_encryption()
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {count} provider key(s)"))
