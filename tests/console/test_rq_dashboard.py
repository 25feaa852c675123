"""django-rq's dashboard: reading for staff, its changing buttons superuser-only and audited."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from queues.connection import get_rq_queue
from queues.dispatch import dispatch
from queues.topology import Queue
from tests.console import jobs

pytestmark = pytest.mark.django_db(transaction=True)


def _index(queue: Queue) -> int:
    from django_rq.settings import get_queues_list

    return [q["name"] for q in get_queues_list()].index(queue.queue_name)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_read_the_dashboard_but_cannot_empty_a_queue(staff_operator, redis_conn) -> None:
    job_id = dispatch(jobs.fails_until_fixed, workspace_id=None, entity_ids={"n": 1}, data={"marker": "m"})
    client = _client(staff_operator)
    index = _index(Queue.DEFAULT)
    assert client.get("/admin/rq/").status_code == 200
    assert client.get(f"/admin/rq/queues/{index}/").status_code == 200
    assert client.get(f"/admin/rq/queues/{index}/empty/").status_code == 200  # the confirmation page
    assert client.post(f"/admin/rq/queues/{index}/empty/").status_code == 403
    assert client.post(f"/admin/rq/queues/{index}/{job_id}/delete/").status_code == 403
    assert get_rq_queue(Queue.DEFAULT).job_ids == [job_id]
    assert not LogEntry.objects.exists()


def test_a_superusers_change_goes_through_and_is_audited(superuser, redis_conn) -> None:
    job_id = dispatch(jobs.fails_until_fixed, workspace_id=None, entity_ids={"n": 1}, data={"marker": "m"})
    client = _client(superuser)
    index = _index(Queue.DEFAULT)
    response = client.post(f"/admin/rq/queues/{index}/{job_id}/delete/")
    assert response.status_code in (200, 302)
    assert get_rq_queue(Queue.DEFAULT).job_ids == []
    entry = LogEntry.objects.get()
    assert entry.user_id == superuser.pk and entry.object_id == job_id
    assert entry.change_message == f"django-rq delete_job, queue index {index}, job {job_id}"
