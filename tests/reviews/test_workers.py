"""The review flow through real worker processes: the whole flow, concurrency, killed workers,
cancelling a running run. (Flows that do not depend on processes are in test_flow.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from billing.models import UsageRecord
from queues.connection import get_rq_queue
from queues.dispatch import enqueue_envelope
from queues.envelope import Envelope
from queues.topology import Queue
from reviews import jobs, services
from reviews.models import Annotation, AnnotationKind, AnnotationState, ReviewResult, ReviewRun, RunStatus
from tests.reviews.flow import (
    Workers,
    events,
    kill,
    open_local_pr,
    reported,
    start_workers,
    wait_for,
)

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path: Path, redis_conn):
    manager = Workers(tmp_path)
    yield manager
    manager.stop_all()


def test_whole_flow_stores_findings_posts_one_review_records_usage_once_and_emits_events_in_order(
    workspace, git_repo, reviews_dir, workers, log_records
):
    pr = open_local_pr(workspace, git_repo)
    start_workers(workers, reviews_dir)
    run = pr.request()
    wait_for(lambda: reported(run), timeout=60)

    run = ReviewRun.objects.get(pk=run.pk)
    assert run.status == RunStatus.COMPLETED, (run.status, run.error_message, workers.log_text()[-3000:])
    assert run.provider == "offline" and run.review_mode == "full" and run.attempts == 1
    assert run.findings.filter(severity="high").exists()
    assert "app/orders.py" in run.coverage["reviewed"]
    assert ReviewResult.objects.filter(run=run).count() == 1
    assert len(pr.posted_reviews()) == 1
    assert len(pr.summary_comments()) == 1
    assert pr.status(run.head_sha)["conclusion"] == "neutral"
    assert UsageRecord.objects.filter(idempotency_key=f"review_run:{run.pk}").count() == 1
    assert UsageRecord.objects.filter(workspace=workspace, metric="review_run").count() == 1

    created = [r["event_name"] for r in log_records() if r.get("event") == "reviews.event" and r.get("run_id") == run.pk]
    in_workers = events(workers.log_text(), run.pk)
    assert created == ["run_created"]
    assert in_workers[:3] == ["run_started", "run_completed", "finding_reported"]
    assert set(in_workers[3:]) == {"annotation_posted"}


def test_two_workers_on_one_run_execute_it_once(workspace, git_repo, reviews_dir, workers, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    # No worker yet: the run waits in its queue; then a second copy of its job with another id
    # (a duplicate that slipped past dispatch) joins it, and two workers take one each.
    run = pr.request()
    queue = Queue.from_name(run.queue)
    wait_for(lambda: get_rq_queue(queue).count >= 1)
    enqueue_envelope(
        jobs.execute_review_run.spec,
        Envelope(schema_version=1, workspace_id=run.workspace_id, correlation_id="dup",
                 entity_ids={"review_run_id": run.pk}, job_id=f"review-run-{run.pk}-copy"),
        queue=queue,
    )
    start_workers(workers, reviews_dir, count=2, SENTINEL_LOCAL_GIT_DELAYS="get_diff=1")
    wait_for(lambda: reported(run), timeout=60)
    run = ReviewRun.objects.get(pk=run.pk)
    assert run.status == RunStatus.COMPLETED
    assert run.attempts == 1
    assert ReviewResult.objects.filter(run=run).count() == 1
    assert len(pr.posted_reviews()) == 1


def test_a_worker_killed_during_execution_leaves_a_run_that_completes_with_one_review(
    workspace, git_repo, reviews_dir, workers
):
    pr = open_local_pr(workspace, git_repo)
    (victim,) = start_workers(workers, reviews_dir, SENTINEL_LOCAL_GIT_DELAYS="get_diff=4")
    run = pr.request()
    wait_for(lambda: ReviewRun.objects.get(pk=run.pk).status == RunStatus.RUNNING, timeout=30)
    kill(workers, victim)
    start_workers(workers, reviews_dir)
    wait_for(lambda: reported(run), timeout=90)
    run = ReviewRun.objects.get(pk=run.pk)
    assert run.status == RunStatus.COMPLETED
    assert run.attempts == 2  # claimed, then resumed after the crash
    assert ReviewResult.objects.filter(run=run).count() == 1
    assert len(pr.posted_reviews()) == 1
    assert UsageRecord.objects.filter(idempotency_key=f"review_run:{run.pk}").count() == 1


def test_a_worker_killed_while_posting_never_posts_a_second_review(workspace, git_repo, reviews_dir, workers):
    pr = open_local_pr(workspace, git_repo)
    (victim,) = start_workers(workers, reviews_dir, SENTINEL_LOCAL_GIT_DELAYS="post_review=5")
    run = pr.request()
    # Killed after the review reached the "host" but before the worker recorded it as posted.
    wait_for(lambda: len(pr.posted_reviews()) == 1, timeout=60)
    assert Annotation.objects.get(run=run, kind=AnnotationKind.REVIEW).state == AnnotationState.PENDING
    kill(workers, victim)
    start_workers(workers, reviews_dir)
    wait_for(lambda: reported(run), timeout=90)
    assert len(pr.posted_reviews()) == 1
    assert Annotation.objects.get(run=run, kind=AnnotationKind.REVIEW).state == AnnotationState.POSTED
    assert ReviewRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED


def test_cancelling_a_running_run_stops_it_and_reports_cancelled(workspace, git_repo, reviews_dir, workers):
    pr = open_local_pr(workspace, git_repo)
    start_workers(workers, reviews_dir, SENTINEL_LOCAL_GIT_DELAYS="get_diff=4")
    run = pr.request()
    wait_for(lambda: (pr.status(run.head_sha) or {}).get("state") == "in_progress", timeout=30)
    assert ReviewRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    services.cancel_run(run=ReviewRun.objects.get(pk=run.pk), actor="test")
    wait_for(lambda: reported(run), timeout=60)
    run = ReviewRun.objects.get(pk=run.pk)
    assert run.status == RunStatus.CANCELLED and run.cancelled_by == "test"
    assert not ReviewResult.objects.filter(run=run).exists()
    assert pr.posted_reviews() == []
    assert pr.status(run.head_sha)["conclusion"] == "cancelled"


def test_a_newer_push_supersedes_a_running_run_which_then_never_completes(workspace, git_repo, reviews_dir, workers):
    from tests.reviews.flow import SECOND_PUSH

    pr = open_local_pr(workspace, git_repo)
    start_workers(workers, reviews_dir, SENTINEL_LOCAL_GIT_DELAYS="get_diff=4")
    old = pr.request()
    wait_for(lambda: ReviewRun.objects.get(pk=old.pk).status == RunStatus.RUNNING, timeout=30)
    git_repo.commit(SECOND_PUSH, "second push")
    new = pr.request()
    old = ReviewRun.objects.get(pk=old.pk)
    assert old.status == RunStatus.SKIPPED and old.skip_reason == "superseded" and old.superseded_by_id == new.pk
    wait_for(lambda: reported(new) and reported(old), timeout=90)
    assert ReviewRun.objects.get(pk=old.pk).status == RunStatus.SKIPPED
    assert not ReviewResult.objects.filter(run=old).exists()
    assert ReviewRun.objects.get(pk=new.pk).status == RunStatus.COMPLETED
    assert len(pr.posted_reviews()) == 1
    assert pr.status(old.head_sha)["conclusion"] == "skipped"
