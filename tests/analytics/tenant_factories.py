"""Tenant factories of the analytics app for the cross-tenant walk (see tests/tenancy.py)."""

from __future__ import annotations

from django.utils import timezone

from analytics import services
from analytics.models import Event, EventKind, Granularity, Rollup
from tests.analytics.factories import event, make_repository, record
from tests.tenancy import tenant_factory
from workspaces.models import Workspace


@tenant_factory(Event)
def make_event(workspace: Workspace) -> Event:
    item = event(EventKind.RUN_CREATED, timezone.now(), repository=make_repository(workspace))
    record(workspace, item)
    return Event.objects.get(idempotency_key=item.key)


@tenant_factory(Rollup)
def make_rollup(workspace: Workspace) -> Rollup:
    """A day rollup of the workspace, computed from one event by the real rollup SQL."""
    make_event(workspace)
    services.update_rollups()
    return Rollup.objects.for_workspace(workspace).filter(granularity=Granularity.DAY).latest("bucket_start")
