"""Walks every API operation in the generated OpenAPI schema as a member of another workspace.

New endpoints join automatically: paths come from drf-spectacular, and object parameters are
filled by the factories that apps register in `tests/<app>/tenant_factories.py` (tests/tenancy.py).

- Every operation on a path with the victim's `{workspace_slug}` answers 404.
- Every operation on an object route of the attacker's own workspace, pointed at the victim's
  object, answers 404, and the object is still there afterwards.
- Every list (GET without an object parameter) contains none of the victim's rows and does
  contain the attacker's own; no response anywhere mentions the victim's slug or owner email.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import models
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.tenancy import PATH_PARAMETER_MODELS, TENANT_FACTORIES, load_all_factories
from tests.workspaces.factories import make_user, make_workspace, session_client, token_client
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

load_all_factories()

PARAM = re.compile(r"{([^}]+)}")
METHODS = ("get", "post", "put", "patch", "delete")
WORKSPACE_PARAM = "workspace_slug"


@dataclass(frozen=True)
class Operation:
    path: str
    method: str

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def object_params(self) -> list[str]:
        return [p for p in self.params if p != WORKSPACE_PARAM]

    def url(self, values: dict[str, Any]) -> str:
        return PARAM.sub(lambda m: str(values[m.group(1)]), self.path)


def _operations() -> list[Operation]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        Operation(path, method)
        for path, item in schema["paths"].items()
        for method in METHODS
        if method in item
    ]


OPERATIONS = _operations()


def _view_model(operation: Operation) -> type[models.Model] | None:
    dummy = operation.url(dict.fromkeys(operation.params, "1"))
    view_class = getattr(resolve(dummy).func, "cls", None)
    queryset = getattr(view_class, "queryset", None)
    return None if queryset is None else queryset.model


def _param_model(operation: Operation, name: str) -> type[models.Model]:
    if name == operation.object_params[-1] and name not in PATH_PARAMETER_MODELS:
        model = _view_model(operation)
        assert model is not None, f"{operation.path}: the view has no `queryset`, so the walk cannot tell its model"
        return model
    assert name in PATH_PARAMETER_MODELS, (
        f"{operation.path}: register the model of path parameter {name!r} with tests.tenancy.path_parameter()"
    )
    return PATH_PARAMETER_MODELS[name]


class World:
    """Two workspaces with one row of every registered tenant model each."""

    def __init__(self) -> None:
        self.victim_owner = make_user("victim")
        self.victim = make_workspace(self.victim_owner, name=f"victim-{secrets.token_hex(4)}")
        self.attacker_owner = make_user("attacker")
        self.attacker = make_workspace(self.attacker_owner, name=f"attacker-{secrets.token_hex(4)}")
        self.objects: dict[tuple[int, type[models.Model]], models.Model] = {}

    def object(self, workspace: Workspace, model: type[models.Model]) -> models.Model:
        key = (workspace.pk, model)
        if key not in self.objects:
            assert model in TENANT_FACTORIES, (
                f"No tenant factory for {model.__name__}: add one in tests/<app>/tenant_factories.py"
            )
            self.objects[key] = TENANT_FACTORIES[model](workspace)
        return self.objects[key]

    def markers(self) -> list[str]:
        return [self.victim.slug, self.victim_owner.email]


@pytest.fixture
def world() -> World:
    return World()


def _clients(world: World) -> dict[str, APIClient]:
    return {
        "session": session_client(world.attacker_owner),
        "token": token_client(world.attacker, world.attacker_owner, scopes=("read", "write")),
    }


def _assert_no_leak(world: World, response: Any, label: str) -> None:
    body = response.content.decode(errors="replace")
    for marker in world.markers():
        assert marker not in body, f"{label}: response mentions the victim ({marker!r})"


def test_schema_has_workspace_scoped_routes() -> None:
    """Guards the walk itself: if discovery broke, the other tests would pass on nothing."""
    scoped = [op for op in OPERATIONS if WORKSPACE_PARAM in op.params]
    assert len(scoped) >= 10
    assert any(op.object_params for op in scoped)


def test_every_operation_on_another_workspace_answers_404(world: World) -> None:
    for label, client in _clients(world).items():
        for op in [op for op in OPERATIONS if WORKSPACE_PARAM in op.params]:
            values: dict[str, Any] = {WORKSPACE_PARAM: world.victim.slug}
            for name in op.object_params:
                values[name] = world.object(world.victim, _param_model(op, name)).pk
            url = op.url(values)
            response = getattr(client, op.method)(url, {}, format="json")
            assert response.status_code == 404, f"[{label}] {op.method.upper()} {url} -> {response.status_code}"
            _assert_no_leak(world, response, f"[{label}] {op.method.upper()} {url}")
    for (workspace_id, model), obj in world.objects.items():
        assert model._default_manager.filter(pk=obj.pk).exists(), f"{model.__name__} of {workspace_id} was deleted"


def test_every_object_route_answers_404_for_another_workspaces_object(world: World) -> None:
    object_ops = [op for op in OPERATIONS if op.object_params]
    assert object_ops
    for label, client in _clients(world).items():
        for op in object_ops:
            leaf = op.object_params[-1]
            for parents_from in (world.victim, world.attacker):  # nested routes: own parents too
                values: dict[str, Any] = {WORKSPACE_PARAM: world.attacker.slug}
                for name in op.object_params:
                    owner = world.victim if name == leaf else parents_from
                    values[name] = world.object(owner, _param_model(op, name)).pk
                url = op.url(values)
                response = getattr(client, op.method)(url, {}, format="json")
                assert response.status_code == 404, f"[{label}] {op.method.upper()} {url} -> {response.status_code}"
                _assert_no_leak(world, response, f"[{label}] {op.method.upper()} {url}")
    for model in TENANT_FACTORIES:
        victim_obj = world.objects.get((world.victim.pk, model))
        if victim_obj is not None:
            assert model._default_manager.filter(pk=victim_obj.pk).exists(), f"victim's {model.__name__} was deleted"


def _result_ids(payload: Any) -> list[Any]:
    rows = payload.get("results", payload) if isinstance(payload, dict) else payload
    return [row.get("id") for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def test_every_list_shows_only_own_rows(world: World) -> None:
    for model in TENANT_FACTORIES:  # both workspaces hold a row of every tenant model
        world.object(world.victim, model)
        world.object(world.attacker, model)
    list_ops = [op for op in OPERATIONS if op.method == "get" and not op.object_params]
    assert list_ops
    for label, client in _clients(world).items():
        for op in list_ops:
            url = op.url({WORKSPACE_PARAM: world.attacker.slug})
            response = client.get(url)
            assert response.status_code == 200, f"[{label}] GET {url} -> {response.status_code}"
            _assert_no_leak(world, response, f"[{label}] GET {url}")
            model = _view_model(op)
            if model is None or model not in TENANT_FACTORIES or "results" not in response.json():
                continue
            ids = _result_ids(response.json())
            victim_obj = world.objects[(world.victim.pk, model)]
            own_obj = world.objects[(world.attacker.pk, model)]
            assert victim_obj.pk not in ids, f"[{label}] GET {url} lists the victim's {model.__name__}"
            assert own_obj.pk in ids, f"[{label}] GET {url} does not list the attacker's own {model.__name__}"
