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


@pytest.fixture
def recorded_dead_letters(redis_conn, django_capture_on_commit_callbacks):
    """Dead letters recorded by the platform's own service (`record_dead_letter`, what the worker
    calls on a job's last failure) for real queued rq jobs, without running a worker: for tests
    about the console's pages and actions that need no job to run (no transactional database)."""
    from queues.connection import SentinelJob
    from queues.deadletters import record_dead_letter

    def make(n: int = 1, *, workspace_id: int | None = None, webhooks: int = 0) -> list[DeadLetter]:
        start = DeadLetter.objects.count()
        with django_capture_on_commit_callbacks(execute=True):
            job_ids = _dispatch(n, webhooks, start, workspace_id)
        letters = []
        for job_id in job_ids:
            job = SentinelJob.fetch(job_id, connection=redis_conn)
            letters.append(
                record_dead_letter(job=job, error="RuntimeError: upstream is down", traceback="Traceback...")
            )
        return letters

    return make


def _dispatch(n: int, webhooks: int, start: int, workspace_id: int | None) -> list[str]:
    ids = []
    for i in range(n):
        ids.append(
            dispatch(
                jobs.fails_until_fixed,
                workspace_id=workspace_id,
                entity_ids={"n": start + i},
                data={"marker": f"m{start + i}", "api_token": "tok-should-be-masked"},
            )
        )
    for i in range(webhooks):
        ids.append(
            dispatch(jobs.webhook_fails, workspace_id=workspace_id, entity_ids={"n": start + i}, data={})
        )
    return ids
