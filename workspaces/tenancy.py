"""The one tenancy mechanism: workspace-scoped querysets for requests, and the job-side guard.

Every model that belongs to a workspace uses `WorkspaceScopedQuerySet` (usually through
`WorkspaceScopedManager`) so that reads say which workspace they are for:

    class Repository(models.Model):
        workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE)
        objects = WorkspaceScopedManager()

    Repository.objects.for_workspace(workspace)

API views get this for free from `workspaces.api.base.WorkspaceScopedViewSet`; jobs load their
entities with `get_for_workspace(...)`, which refuses an id that belongs to another workspace.
See docs/api.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

from workspaces.exceptions import TenantMismatchError

if TYPE_CHECKING:
    from workspaces.models import Workspace

M = TypeVar("M", bound=models.Model)


class WorkspaceScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a workspace through `workspace_field` (a lookup path).

    Override `workspace_field` for models that reach their workspace through a relation, e.g.
    `workspace_field = "run__workspace"` (prefer a direct `workspace` FK: every tenant table has one).
    """

    workspace_field: str = "workspace"

    def for_workspace(self, workspace: Workspace | int) -> WorkspaceScopedQuerySet:
        """Rows of `workspace` (a Workspace or its id) only."""
        workspace_id = workspace if isinstance(workspace, int) else workspace.pk
        if workspace_id is None:
            raise ValueError("for_workspace() needs a saved workspace")
        return self.filter(**{f"{self.workspace_field}_id": workspace_id})


class WorkspaceScopedManager(models.Manager.from_queryset(WorkspaceScopedQuerySet)):  # type: ignore[misc]  # dynamic base class
    """`objects = WorkspaceScopedManager()` gives a model `.objects.for_workspace(ws)`."""


def scope_to_workspace(queryset: models.QuerySet, workspace: Workspace | int) -> models.QuerySet:
    """Scope any queryset to `workspace`, refusing querysets that have no tenancy method.

    Raising instead of guessing means a new endpoint whose model forgot `WorkspaceScopedQuerySet`
    fails loudly in its first test instead of leaking rows.
    """
    for_workspace = getattr(queryset, "for_workspace", None)
    if for_workspace is None:
        raise TypeError(
            f"{queryset.model.__name__}'s queryset has no for_workspace(); "
            "use workspaces.tenancy.WorkspaceScopedQuerySet for tenant models"
        )
    return for_workspace(workspace)


def get_for_workspace(model_or_queryset: type[M] | models.QuerySet, *, pk: Any, workspace_id: int) -> M:
    """Load one entity by primary key *and* workspace id, for jobs.

    A job's envelope carries `workspace_id` and entity ids. If the entity does not exist it raises
    the model's `DoesNotExist` (the job decides whether that means "skip"); if it exists but belongs
    to another workspace it raises `TenantMismatchError` — never a silent load across tenants.
    """
    if isinstance(model_or_queryset, models.QuerySet):
        queryset = model_or_queryset
    else:
        queryset = model_or_queryset._default_manager.all()
    model = queryset.model
    if workspace_id is None:
        raise TenantMismatchError(f"{model.__name__} {pk}: job envelope has no workspace_id")
    scoped = scope_to_workspace(queryset, int(workspace_id))
    try:
        return scoped.get(pk=pk)
    except model.DoesNotExist:
        # Tell "gone" from "someone else's": the second is a defect or an attack, not a retry.
        if model._default_manager.filter(pk=pk).exists():
            raise TenantMismatchError(
                f"{model.__name__} {pk} does not belong to workspace {workspace_id}"
            ) from None
        raise
