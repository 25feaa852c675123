"""ProcessWebhookEvent routing of GitHub's real payloads, through the real intake view.

Jobs run through the real rq worker code in-process (`queues.testing.drain`); PostgreSQL and Redis
are real. Processes that must be real (workers, the whole review) are in test_flow.py.
"""

from __future__ import annotations

import threading

import pytest
from django.test import Client

from integrations import services
from integrations.models import DeliveryStatus, Installation, PausedPullRequest, Repository, WebhookDelivery
from queues.testing import drain
from queues.topology import Queue
from reviews.models import ReviewRun
from tests.integrations.conftest import Deliveries, payload

pytestmark = pytest.mark.django_db(transaction=True)

HELLO_WORLD_ID = "186853002"
SPACE_ID = "186853007"


@pytest.fixture(autouse=True)
def _no_debounce(settings) -> None:
    settings.SENTINEL_REVIEW_DEBOUNCE_SECONDS = 0


def route(deliveries: Deliveries, event: str, body: dict, delivery_id: str | None = None) -> WebhookDelivery:
    response = deliveries.post(event, body, delivery_id=delivery_id)
    assert response.status_code == 202, response.content
    drain([Queue.WEBHOOKS, Queue.SYNC])
    return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])


def install(deliveries: Deliveries) -> Installation:
    delivery = route(deliveries, "installation", payload("installation/created"))
    assert delivery.status == DeliveryStatus.PROCESSED
    return Installation.objects.get(github_installation_id=957387)


def test_installation_created_makes_a_free_workspace_and_enables_its_repositories(deliveries, clean_redis) -> None:
    installation = install(deliveries)
    assert (installation.account_login, installation.account_type) == ("Codertocat", "User")
    assert installation.permissions["pull_requests"] == "write"
    workspace = installation.workspace
    assert workspace.name == "Codertocat"
    from billing.selectors import plan_for

    assert plan_for(workspace.pk).name == "free"
    repository = Repository.objects.get(provider_id=HELLO_WORLD_ID)
    assert (repository.full_name, repository.enabled, repository.workspace_id) == ("Codertocat/Hello-World", True, workspace.pk)
    # A redelivery under a new id changes nothing.
    route(deliveries, "installation", payload("installation/created"))
    assert Installation.objects.count() == 1 and Repository.objects.count() == 1


def test_repositories_added_beyond_the_plans_limit_are_added_disabled(deliveries, clean_redis) -> None:
    installation = install(deliveries)
    for github_id in (9001, 9002):  # free plan: 3 repositories
        services.repositories_upsert(installation=installation, repositories=[
            services.RepositoryData(github_id=github_id, full_name=f"Codertocat/r{github_id}", private=True)])
    route(deliveries, "installation_repositories", payload("installation_repositories/added"))
    space = Repository.objects.get(provider_id=SPACE_ID)
    assert space.full_name == "Codertocat/Space"
    assert space.enabled is False
    assert Repository.objects.filter(workspace=installation.workspace, enabled=True).count() == 3


def test_installation_repositories_removed_disables_and_marks_the_repository(deliveries, clean_redis) -> None:
    install(deliveries)
    removed = payload("installation_repositories/removed")
    removed["installation"]["id"] = 957387
    removed["repositories_removed"][0].update(id=int(HELLO_WORLD_ID), full_name="Codertocat/Hello-World")
    route(deliveries, "installation_repositories", removed)
    repository = Repository.objects.get(provider_id=HELLO_WORLD_ID)
    assert repository.removed_at is not None and repository.enabled is False


def test_suspend_unsuspend_and_delete(deliveries, clean_redis) -> None:
    install(deliveries)
    for action, check in (
        ("suspend", lambda i: i.suspended_at is not None),
        ("unsuspend", lambda i: i.suspended_at is None),
        ("deleted", lambda i: i.deleted_at is not None),
    ):
        body = payload(f"installation/{action}")
        body["installation"]["id"] = 957387
        route(deliveries, "installation", body)
        assert check(Installation.objects.get(github_installation_id=957387)), action
    assert Repository.objects.get(provider_id=HELLO_WORLD_ID).enabled is False


def test_pull_request_opened_on_an_enabled_repository_requests_one_review(deliveries, clean_redis) -> None:
    install(deliveries)
    delivery = route(deliveries, "pull_request", payload("pull_request/opened"))
    assert delivery.status == DeliveryStatus.PROCESSED, delivery.reason
    run = ReviewRun.objects.get()
    pr = payload("pull_request/opened")["pull_request"]
    assert (run.pr_number, run.head_sha, run.base_sha, run.trigger) == (2, pr["head"]["sha"], pr["base"]["sha"], "webhook")
    assert run.correlation_id == delivery.delivery_id
    assert delivery.workspace_id == run.workspace_id and delivery.repository_id == run.repository_id
    # synchronize / reopened for the same head find the same run.
    route(deliveries, "pull_request", payload("pull_request/synchronize"))
    route(deliveries, "pull_request", payload("pull_request/reopened"))
    assert ReviewRun.objects.count() == 1


def test_pull_request_closed_cancels_its_open_runs(deliveries, clean_redis) -> None:
    install(deliveries)
    route(deliveries, "pull_request", payload("pull_request/opened"))
    delivery = route(deliveries, "pull_request", payload("pull_request/closed"))
    assert delivery.status == DeliveryStatus.PROCESSED
    assert "cancelled 1" in delivery.reason
    assert ReviewRun.objects.get().status == "cancelled"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p["pull_request"].update(draft=True), "draft pull request"),
        (lambda p: p["pull_request"]["user"].update(type="Bot", login="dependabot[bot]"), "pull request by a bot"),
    ],
)
def test_drafts_and_bot_authors_are_skipped_by_default(deliveries, clean_redis, change, reason) -> None:
    install(deliveries)
    body = payload("pull_request/opened")
    change(body)
    delivery = route(deliveries, "pull_request", body)
    assert delivery.status == DeliveryStatus.IGNORED and delivery.reason.startswith(reason)
    assert ReviewRun.objects.count() == 0


def test_drafts_are_reviewed_when_the_dashboard_setting_says_so(deliveries, clean_redis) -> None:
    install(deliveries)
    repository = Repository.objects.get(provider_id=HELLO_WORLD_ID)
    services.repository_update_settings(repository=repository, review_settings={"review_drafts": True})
    body = payload("pull_request/opened")
    body["pull_request"]["draft"] = True
    assert route(deliveries, "pull_request", body).status == DeliveryStatus.PROCESSED
    assert ReviewRun.objects.count() == 1


def test_a_pull_request_routed_before_its_installation_sync_waits_for_it(deliveries, clean_redis) -> None:
    """installation.created is routed, its sync job still queued, when pull_request.opened comes in."""
    import time

    from queues.connection import get_rq_queue

    assert deliveries.post("installation", payload("installation/created")).status_code == 202
    drain([Queue.WEBHOOKS])  # routed; apply_installation_event waits on `sync`
    pr = payload("pull_request/opened")
    pr["installation"]["id"] = 957387  # GitHub's example payloads come from different installations
    opened = deliveries.post("pull_request", pr).json()["delivery_id"]
    drain([Queue.WEBHOOKS])
    delivery = WebhookDelivery.objects.get(delivery_id=opened)
    assert delivery.status == DeliveryStatus.RECEIVED  # not ignored: retried in a few seconds
    assert get_rq_queue(Queue.WEBHOOKS).scheduled_job_registry.count == 1
    drain([Queue.SYNC])
    assert Repository.objects.filter(provider_id=HELLO_WORLD_ID, enabled=True).exists()
    time.sleep(3.2)
    drain([Queue.WEBHOOKS], with_scheduler=True)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED, delivery.reason
    assert ReviewRun.objects.count() == 1
    # Without a sync on its way, an unknown repository is ignored at once, as before.
    other = payload("pull_request/opened")
    other["installation"]["id"] = 957387
    other["repository"]["id"] = 999_999
    assert route(deliveries, "pull_request", other).reason == "repository is not connected to Sentinel"


def test_disabled_unknown_and_paused_repositories_get_no_review(deliveries, clean_redis) -> None:
    unknown = route(deliveries, "pull_request", payload("pull_request/opened"))
    assert (unknown.status, unknown.reason) == (DeliveryStatus.IGNORED, "repository is not connected to Sentinel")
    install(deliveries)
    repository = Repository.objects.get(provider_id=HELLO_WORLD_ID)
    services.pull_request_pause(repository=repository, pr_number=2, login="Codertocat")
    paused = route(deliveries, "pull_request", payload("pull_request/opened"))
    assert "paused" in paused.reason
    PausedPullRequest.objects.all().delete()
    services.repository_disable(repository=repository)
    disabled = route(deliveries, "pull_request", payload("pull_request/opened"))
    assert disabled.reason == "automatic review is disabled for this repository"
    assert ReviewRun.objects.count() == 0


def test_other_pull_request_actions_are_ignored_with_the_reason(deliveries, clean_redis) -> None:
    install(deliveries)
    delivery = route(deliveries, "pull_request", payload("pull_request/converted_to_draft"))
    assert delivery.status == DeliveryStatus.IGNORED
    assert delivery.reason == "pull_request action 'converted_to_draft' does not trigger a review"


def test_fifty_concurrent_repeats_of_one_delivery_store_one_row_and_make_one_run(github_settings, clean_redis) -> None:
    """50 threads, each with its own PostgreSQL connection, post the same delivery at once."""
    from django.db import connection

    install(Deliveries(Client()))
    body = payload("pull_request/opened")
    statuses: list[int] = []
    barrier = threading.Barrier(50)

    def post() -> None:
        try:
            barrier.wait()
            statuses.append(Deliveries(Client()).post("pull_request", body, delivery_id="same-delivery-50").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 50
    assert statuses.count(202) == 1 and statuses.count(200) == 49
    drain([Queue.WEBHOOKS])
    assert WebhookDelivery.objects.filter(delivery_id="same-delivery-50").count() == 1
    assert ReviewRun.objects.count() == 1
