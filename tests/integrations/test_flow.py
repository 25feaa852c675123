"""Whole flows through the real intake view and real rq worker processes, against the fake GitHub.

installation.created + pull_request.opened -> exactly one review with inline comments; GitHub's
403 secondary limit and a 502 are retried later through the job platform; an installation out
of quota waits while another installation's review goes ahead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from integrations.models import CommandRun, Repository, WebhookDelivery
from queues.models import DeadLetter
from reviews.models import ReviewRun
from tests.integrations.conftest import APP_ID, WEBHOOK_SECRET, Deliveries, app_key, comment_command, payload
from tests.queues.conftest import Workers, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]

REPO = "Codertocat/Hello-World"
QUEUES = "system,webhooks,reviews-enterprise,reviews-paid,reviews-default,commands,annotations,notifications,sync,default"
DIFF = """diff --git a/app/views.py b/app/views.py
index 1111111..2222222 100644
--- a/app/views.py
+++ b/app/views.py
@@ -1,2 +1,5 @@
 def handler(request):
+    breakpoint()
+    result = eval(request.GET["expr"])
+    return result
     return None
"""


@pytest.fixture
def workers(tmp_path: Path, fake_github) -> Iterator[Workers]:
    manager = Workers(tmp_path)
    manager.env = {  # type: ignore[attr-defined]
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_APP_PRIVATE_KEY": app_key()[0],
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SENTINEL_REVIEW_DEBOUNCE_SECONDS": "0",
        "SENTINEL_RETRY_BACKOFF_SCALE": "0.1",
    }
    yield manager
    manager.stop_all()


def wait(workers: Workers, predicate, timeout: float = 90):
    try:
        return wait_for(predicate, timeout=timeout)
    except AssertionError:
        print(workers.log_text()[-8000:])
        print(list(ReviewRun.objects.values("status", "skip_reason", "error_message")))
        print(list(WebhookDelivery.objects.values_list("event", "status", "reason")))
        raise


def start(workers: Workers) -> None:
    workers.start(QUEUES.split(","), worker="simple", env=workers.env)  # type: ignore[attr-defined]


def serve_pull_request(fake, full_name: str = REPO, pr_payload: dict | None = None) -> dict:
    pr = (pr_payload or payload("pull_request/opened"))["pull_request"]
    fake.add_pull(full_name, number=pr["number"], head_sha=pr["head"]["sha"], base_sha=pr["base"]["sha"],
                  files=[fake.file_entry("app/views.py", DIFF.split("\n", 4)[4])])
    fake.repo(full_name).diffs[f"{pr['base']['sha']}...{pr['head']['sha']}"] = DIFF
    return pr


def reviews_posted(fake, full_name: str = REPO, number: int = 2) -> list[dict]:
    return fake.repo(full_name).reviews.get(number, [])


def test_installation_then_pull_request_ends_in_exactly_one_review_with_inline_comments(fake_github, workers) -> None:
    serve_pull_request(fake_github)
    start(workers)
    deliveries = Deliveries(Client())
    assert deliveries.post("installation", payload("installation/created")).status_code == 202
    wait(workers, lambda: Repository.objects.filter(full_name=REPO, enabled=True).exists(), timeout=60)
    assert deliveries.post("pull_request", payload("pull_request/opened")).status_code == 202
    try:
        run = wait(workers, lambda: ReviewRun.objects.filter(status="completed").first(), timeout=90)
    except AssertionError:
        print(workers.log_text()[-6000:], list(ReviewRun.objects.values("status", "skip_reason", "error_message")))
        raise
    wait(workers, lambda: reviews_posted(fake_github), timeout=60)
    time.sleep(1)  # anything extra would have been posted by now
    (review,) = reviews_posted(fake_github)
    assert review["comments_posted"], "the review carries inline comments"
    assert {c["path"] for c in review["comments_posted"]} == {"app/views.py"}
    assert all(c["side"] == "RIGHT" for c in review["comments_posted"])
    assert len(fake_github.calls_to("POST", r"/pulls/2/reviews$")) == 1
    assert ReviewRun.objects.count() == 1 and run.head_sha == payload("pull_request/opened")["pull_request"]["head"]["sha"]

    # The other real payloads, through the same worker process.
    fake_github.add_pull(REPO, number=1, head_sha=run.head_sha)
    sent = {
        "ping": deliveries.post("ping", payload("ping/payload")),
        "synchronize": deliveries.post("pull_request", payload("pull_request/synchronize")),
        "added": deliveries.post("installation_repositories", payload("installation_repositories/added")),
        "comment": deliveries.post("issue_comment", comment_command("@sentinel help", association="MEMBER")),
    }
    assert all(r.status_code == 202 for r in sent.values())
    ids = {name: r.json()["delivery_id"] for name, r in sent.items()}
    wait(workers, lambda: not WebhookDelivery.objects.filter(delivery_id__in=ids.values(), status="received").exists())
    wait(workers, lambda: Repository.objects.filter(full_name="Codertocat/Space").exists())
    answer = wait(workers, lambda: fake_github.repo(REPO).issue_comments.get(1))
    assert "@sentinel review" in answer[0]["body"]
    statuses = dict(WebhookDelivery.objects.filter(delivery_id__in=ids.values()).values_list("delivery_id", "status"))
    assert {name: statuses[i] for name, i in ids.items()} == dict.fromkeys(ids, "processed")
    assert ReviewRun.objects.count() == 1  # synchronize for the reviewed head found the same run
    closed = deliveries.post("pull_request", payload("pull_request/closed")).json()["delivery_id"]
    wait(workers, lambda: WebhookDelivery.objects.filter(delivery_id=closed).exclude(status="received").first())
    assert ReviewRun.objects.get().status == "completed"  # nothing open to cancel


def test_secondary_rate_limit_and_502_are_retried_later_and_one_review_results(fake_github, workers) -> None:
    serve_pull_request(fake_github)
    fake_github.fail_next("GET", r"/compare/", status=502, message="Server Error")
    fake_github.fail_next("POST", r"/pulls/2/reviews$", status=403, headers={"Retry-After": "1"},
                          message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
    start(workers)
    deliveries = Deliveries(Client())
    deliveries.post("installation", payload("installation/created"))
    wait(workers, lambda: Repository.objects.filter(full_name=REPO, enabled=True).exists(), timeout=60)
    deliveries.post("pull_request", payload("pull_request/opened"))
    try:
        wait(workers, lambda: reviews_posted(fake_github), timeout=120)
    except AssertionError:
        print(workers.log_text()[-8000:], list(ReviewRun.objects.values("status", "skip_reason", "error_message")))
        print([(c.method, c.path) for c in fake_github.calls])
        raise
    time.sleep(1)
    assert len(reviews_posted(fake_github)) == 1
    posts = fake_github.calls_to("POST", r"/pulls/2/reviews$")
    assert len(posts) == 2  # the refused one, then the retry
    assert ReviewRun.objects.get().status == "completed"
    assert "github.call_failed" in workers.log_text()


def test_an_installation_out_of_quota_does_not_delay_another_installations_review(fake_github, workers) -> None:
    # Installation A (Codertocat) and B (octo-org), each with one repository and one pull request.
    other = payload("installation/created")
    other["installation"].update(id=957388)
    other["installation"]["account"].update(login="octo-org", id=424242, type="Organization")
    other["repositories"] = [{"id": 555555, "node_id": "R_x", "name": "other", "full_name": "octo-org/other", "private": True}]
    other_pr = payload("pull_request/opened")
    other_pr["repository"].update(id=555555, full_name="octo-org/other")
    serve_pull_request(fake_github)
    serve_pull_request(fake_github, "octo-org/other", other_pr)
    # A has 2 requests left in this window, which resets in 12 s.
    reset_a = int(time.time()) + 15
    fake_github.rate_remaining[957387] = 2
    fake_github.rate_reset[957387] = reset_a
    start(workers)
    deliveries = Deliveries(Client())
    deliveries.post("installation", payload("installation/created"))
    deliveries.post("installation", other)
    wait(workers, lambda: Repository.objects.filter(enabled=True).count() == 2, timeout=60)
    deliveries.post("pull_request", payload("pull_request/opened"))
    deliveries.post("pull_request", other_pr)
    wait(workers, lambda: reviews_posted(fake_github, "octo-org/other"), timeout=90)
    assert not reviews_posted(fake_github), "A is still waiting for its rate-limit window while B is done"
    wait(workers, lambda: reviews_posted(fake_github), timeout=120)
    assert time.time() >= reset_a  # A went on once its window reset
    assert len(reviews_posted(fake_github)) == 1 and len(reviews_posted(fake_github, "octo-org/other")) == 1
    assert ReviewRun.objects.filter(status="completed").count() == 2


def test_a_command_whose_retries_all_fail_ends_failed_not_running(fake_github, workers) -> None:
    """GitHub refuses the answer for the whole backoff: the job dead-letters and the command ends `failed`."""
    fake_github.add_pull(REPO, number=1, head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    fake_github.fail_next("POST", r"/issues/1/comments$", status=502, message="Server Error", times=100)
    start(workers)
    deliveries = Deliveries(Client())
    deliveries.post("installation", payload("installation/created"))
    wait(workers, lambda: Repository.objects.filter(full_name=REPO, enabled=True).exists(), timeout=60)
    deliveries.post("issue_comment", comment_command("@sentinel help", association="MEMBER"))
    dead = wait(workers, lambda: DeadLetter.objects.filter(job_name="integrations.jobs.execute_command").first(), timeout=90)
    run = wait(workers, lambda: CommandRun.objects.filter(status="failed").first(), timeout=30)
    assert "execute_command job failed after its retries" in run.reason and run.finished_at is not None
    assert dead.payload["entity_ids"] == {"command_run_id": run.pk}
    assert len(fake_github.calls_to("POST", r"/issues/1/comments$")) == 4  # the first try and 3 retries
    assert fake_github.repo(REPO).issue_comments.get(1) in (None, [])
