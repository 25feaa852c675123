"""Analytics test data, built through the ingestion service as production builds it."""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime
from typing import Any

from analytics import services
from analytics.models import EventKind
from analytics.services import EventInput
from integrations.models import Repository, SourceProvider
from workspaces.models import Workspace

_counter = itertools.count(1)


def make_repository(workspace: Workspace, name: str | None = None) -> Repository:
    return Repository.objects.create(
        workspace=workspace,
        provider=SourceProvider.LOCAL_GIT,
        full_name=name or f"acme/repo-{secrets.token_hex(3)}",
        local_path="/tmp/none",
    )


def event(
    kind: str,
    at: datetime,
    *,
    repository: Repository | int | None = None,
    key: str | None = None,
    **data: Any,
) -> EventInput:
    repository_id = repository.pk if isinstance(repository, Repository) else repository
    return EventInput(
        key=key or f"test:{kind}:{next(_counter)}:{secrets.token_hex(4)}",
        kind=str(kind),
        occurred_at=at,
        repository_id=repository_id,
        data=data,
    )


def completed(at: datetime, *, duration_ms: int, repository: Any = None, **extra: Any) -> EventInput:
    return event(EventKind.RUN_COMPLETED, at, repository=repository, duration_ms=duration_ms, **extra)


def record(workspace: Workspace, *events: EventInput) -> int:
    return services.record_events(workspace_id=workspace.pk, events=list(events))
