"""Installation sync from GitHub's API (the hourly full sync) and the stranded-delivery sweep."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import jobs
from integrations.github.deliveries import insert_delivery
from integrations.models import DeliveryStatus, Installation, Repository, WebhookDelivery
from queues.dispatch import dispatch
from queues.testing import drain
from queues.topology import Queue
from tests.integrations.conftest import payload

pytestmark = pytest.mark.django_db(transaction=True)


def test_full_sync_learns_installations_and_repairs_the_repository_list(fake_github, deliveries) -> None:
    deliveries.post("installation", payload("installation/created"))
    drain([Queue.WEBHOOKS, Queue.SYNC])
    installation = Installation.objects.get(github_installation_id=957387)
    # GitHub now lists a second installation we never heard of, and different repositories.
    known = payload("installation/created")["installation"]
    missed = payload("installation/created")["installation"]
    missed.update(id=957999)
    missed["account"].update(login="octo-org", id=777, type="Organization")
    fake_github.installations = {957387: known, 957999: missed}
    space = payload("installation_repositories/added")["repositories_added"][0]
    fake_github.installation_repos[957387] = [{**space, "default_branch": "trunk"}]
    fake_github.installation_repos[957999] = []

    dispatch(jobs.sync_all_installations, workspace_id=None, entity_ids={})
    drain([Queue.SYNC])

    assert set(Installation.objects.values_list("github_installation_id", flat=True)) == {957387, 957999}
    hello = Repository.objects.get(full_name="Codertocat/Hello-World")
    assert hello.removed_at is not None and hello.enabled is False  # GitHub no longer lists it
    added = Repository.objects.get(full_name="Codertocat/Space")
    assert (added.enabled, added.default_branch, added.installation_id) == (True, "trunk", installation.pk)
    installation.refresh_from_db()
    assert installation.synced_at is not None
    assert fake_github.calls_to("GET", r"^/app/installations$")[0].installation_id is None  # as the App (JWT)


def test_full_sync_marks_an_installation_github_no_longer_has_deleted(fake_github, deliveries) -> None:
    deliveries.post("installation", payload("installation/created"))
    drain([Queue.WEBHOOKS, Queue.SYNC])
    installation = Installation.objects.get()
    dispatch(jobs.sync_installation, workspace_id=installation.workspace_id, entity_ids={"installation_id": installation.pk})
    drain([Queue.SYNC])
    installation.refresh_from_db()
    assert installation.deleted_at is not None


def test_stranded_deliveries_are_queued_again(github_settings, clean_redis) -> None:
    body = json.dumps(payload("ping/payload"))
    pk = insert_delivery(delivery_id="lost-job", event="ping", action="", hook_id="", installation_id=None,
                         status=DeliveryStatus.RECEIVED, payload_json=body)
    fresh = insert_delivery(delivery_id="just-arrived", event="ping", action="", hook_id="", installation_id=None,
                            status=DeliveryStatus.RECEIVED, payload_json=body)
    WebhookDelivery.objects.filter(pk=pk).update(received_at=timezone.now() - timedelta(minutes=5))
    dispatch(jobs.requeue_stranded_deliveries, workspace_id=None, entity_ids={})
    drain([Queue.SYSTEM, Queue.WEBHOOKS])
    assert WebhookDelivery.objects.get(pk=pk).status == DeliveryStatus.PROCESSED
    assert WebhookDelivery.objects.get(pk=fresh).status == DeliveryStatus.RECEIVED  # its own job may still come


def test_a_delivery_whose_routing_job_failed_for_good_is_failed_and_not_swept_again(github_settings, clean_redis) -> None:
    from integrations.github.routing import queue_delivery
    from queues.connection import SentinelJob, get_redis, get_rq_queue
    from queues.deadletters import record_dead_letter

    pk = insert_delivery(delivery_id="dead-routing", event="ping", action="", hook_id="", installation_id=None,
                         status=DeliveryStatus.RECEIVED, payload_json=json.dumps(payload("ping/payload")))
    job = SentinelJob.fetch(queue_delivery(delivery_pk=pk, correlation_id="dead-routing"), connection=get_redis())
    # What the worker does when the last retry fails (the database was away for the whole backoff).
    record_dead_letter(job=job, error="OperationalError: the connection is closed")
    delivery = WebhookDelivery.objects.get(pk=pk)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("the process_webhook_event job failed after its retries: OperationalError")
    WebhookDelivery.objects.filter(pk=pk).update(received_at=timezone.now() - timedelta(minutes=5))
    get_rq_queue(Queue.WEBHOOKS).empty()
    dispatch(jobs.requeue_stranded_deliveries, workspace_id=None, entity_ids={})
    drain([Queue.SYSTEM])
    assert get_rq_queue(Queue.WEBHOOKS).count == 0  # the sweep leaves it to an operator


def test_the_schedules_are_declared() -> None:
    from queues.schedules import declared_schedules

    names = declared_schedules()
    assert names["integrations.github_full_sync"].job == "integrations.jobs.sync_all_installations"
    assert names["integrations.requeue_stranded_deliveries"].cron == "* * * * *"
