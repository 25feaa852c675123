"""Installation synchronisation: from webhook payloads, and in full from GitHub's API.

`apply_installation_event` needs no network: installation and installation_repositories payloads
carry what changed. `sync_installation` (per installation) and `sync_all_installations` (the
hourly sweep) ask GitHub, so a missed or lost webhook is repaired within the hour.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.utils import timezone

from integrations import services
from integrations.github.client import app_client, installation_client
from integrations.models import Installation, WebhookDelivery
from integrations.services import InstallationData, RepositoryData
from integrations.source_control.base import SourceControlError

log = structlog.get_logger("integrations.github.sync")


def apply_installation_event(*, delivery: WebhookDelivery) -> str:
    """Apply a stored installation / installation_repositories delivery. Idempotent."""
    payload: dict[str, Any] = delivery.payload or {}
    action = payload.get("action") or ""
    data = InstallationData.from_github(payload["installation"])
    known = Installation.objects.filter(github_installation_id=data.github_id).first()

    if delivery.event == "installation":
        if action in ("created", "new_permissions_accepted") or known is None and action in ("unsuspend",):
            installation, created = services.installation_upsert(data=data, action=action)
            repos = [RepositoryData.from_github(r) for r in payload.get("repositories") or []]
            services.repositories_upsert(installation=installation, repositories=repos)
            return f"installation {data.github_id} {'created' if created else 'updated'}, {len(repos)} repositories"
        if known is None:
            return f"installation {data.github_id} unknown; {action} ignored"
        services.installation_set_state(installation=known, action=action)
        return f"installation {data.github_id} {action}"

    # installation_repositories: added / removed.
    installation = known
    if installation is None:
        installation, _ = services.installation_upsert(data=data, action="created")
    added = [RepositoryData.from_github(r) for r in payload.get("repositories_added") or []]
    removed = [int(r["id"]) for r in payload.get("repositories_removed") or []]
    services.repositories_upsert(installation=installation, repositories=added)
    count = services.repositories_remove(installation=installation, github_ids=removed) if removed else 0
    return f"installation {data.github_id}: {len(added)} added, {count} removed"


def sync_installation(*, installation: Installation) -> str:
    """Refresh one installation and its repository list from GitHub's API."""
    app = app_client()
    try:
        _, data = app.request("GET", f"/app/installations/{installation.github_installation_id}")
    except SourceControlError as exc:
        if exc.status == 404:
            services.installation_set_state(installation=installation, action="deleted")
            return "installation no longer exists at GitHub: marked deleted"
        raise
    services.installation_upsert(data=InstallationData.from_github(data), action="synced")
    if data.get("suspended_at"):
        return "installation suspended: repositories not listed"
    client = installation_client(installation.github_installation_id)
    repos = [RepositoryData.from_github(r) for r in client.paginate("/installation/repositories", key="repositories")]
    services.repositories_upsert(installation=installation, repositories=repos)
    seen = {r.github_id for r in repos}
    gone = [int(r.provider_id) for r in installation.repositories.filter(removed_at__isnull=True) if int(r.provider_id) not in seen]
    removed = services.repositories_remove(installation=installation, github_ids=gone) if gone else 0
    Installation.objects.filter(pk=installation.pk).update(synced_at=timezone.now())
    return f"{len(repos)} repositories, {removed} removed"


def list_app_installations() -> list[dict[str, Any]]:
    return list(app_client().paginate("/app/installations"))
