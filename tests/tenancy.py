"""Registry through which every app's tests feed the cross-tenant walk (tests/workspaces/test_cross_tenant.py).

The walk discovers every API operation from the generated OpenAPI schema. To put a value into an
object path parameter it needs a saved row of the right model in a given workspace, so each app
registers a factory per tenant model in `tests/<app>/tenant_factories.py` (imported automatically):

    from tests.tenancy import path_parameter, tenant_factory

    @tenant_factory(Repository)
    def make_repository(workspace):
        return Repository.objects.create(workspace=workspace, name=f"repo-{workspace.slug}")

    # Only for nested routes whose extra parameter is not the view's own lookup:
    path_parameter("repository_id", Repository)

The leaf parameter of an object route (`{id}`, `{pk}`, ...) maps to the view's `queryset.model`.
A route whose model has no factory makes the walk fail with a message naming it, so a new
endpoint cannot be skipped silently.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import models

TENANT_FACTORIES: dict[type[models.Model], Callable[[Any], models.Model]] = {}
PATH_PARAMETER_MODELS: dict[str, type[models.Model]] = {}


def tenant_factory(model: type[models.Model]) -> Callable:
    def register(func: Callable[[Any], models.Model]) -> Callable[[Any], models.Model]:
        TENANT_FACTORIES[model] = func
        return func

    return register


def path_parameter(name: str, model: type[models.Model]) -> None:
    PATH_PARAMETER_MODELS[name] = model


def load_all_factories() -> None:
    """Import `tests/<app>/tenant_factories.py` of every test package."""
    root = Path(__file__).resolve().parent
    for module in sorted(root.glob("*/tenant_factories.py")):
        importlib.import_module(f"tests.{module.parent.name}.tenant_factories")
