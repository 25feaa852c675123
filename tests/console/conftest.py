"""Console fixtures: users of each kind, and real dead letters made by failing real jobs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from queues.dispatch import dispatch
from queues.models import DeadLetter
from queues.testing import drain
from tests.console import jobs
from tests.integrations.conftest import github_settings  # noqa: F401 - fixture for the delivery tests


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_user(
        username="root-op", password="pw-root-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_operator(django_user_model):
    """Staff but not superuser, with change permission on dead letters (a typical on-call operator)."""
    user = django_user_model.objects.create_user(username="oncall", password="pw-oncall-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="queues", codename__in=["change_deadletter", "view_deadletter"]
        )
    )
    return user


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="member", password="pw-member-123")


@pytest.fixture
def make_dead_letters(redis_conn):
    """Fail `n` real jobs through the worker code; return their DeadLetter rows (oldest first).

    The worker code manages its own database connections, so tests using this need
    `django_db(transaction=True)`.
    """

    def make(n: int = 1, *, workspace_id: int | None = None, webhooks: int = 0) -> list[DeadLetter]:
        redis_conn.set("console:broken", "1")
        before = set(DeadLetter.objects.values_list("pk", flat=True))
        start = DeadLetter.objects.count()
        _dispatch(n, webhooks, start, workspace_id)
        drain()
        return list(DeadLetter.objects.exclude(pk__in=before).order_by("id"))

    return make


def _dispatch(n: int, webhooks: int, start: int, workspace_id: int | None) -> None:
    for i in range(n):
        dispatch(
            jobs.fails_until_fixed,
            workspace_id=workspace_id,
            entity_ids={"n": start + i},
            data={"marker": f"m{start + i}", "api_token": "tok-should-be-masked"},
        )
    for i in range(webhooks):
        dispatch(jobs.webhook_fails, workspace_id=workspace_id, entity_ids={"n": start + i}, data={})
