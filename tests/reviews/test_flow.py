"""Review-run behaviour through the real job code (in-process burst workers, `queues.testing.drain`),
the real PostgreSQL and Redis, local git repositories and the offline engine."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from billing import services as billing
from queues.connection import get_rq_queue
from queues.testing import drain
from queues.topology import Queue
from reviews import services
from reviews.models import ReviewMode, ReviewResult, ReviewRun, RunStatus, SkipReason, Trigger
from tests.reviews.flow import SECOND_PUSH, open_local_pr

pytestmark = pytest.mark.django_db(transaction=True)


def run_of(run: ReviewRun) -> ReviewRun:
    return ReviewRun.objects.get(pk=run.pk)


def test_duplicate_requests_make_one_run_and_queue_one_job(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    pr.info()  # open the local pull request first: the race under test is the run's, not the PR's
    results: list[int] = []

    def request() -> None:
        try:
            results.append(pr.request().pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.append(pr.request().pk)
    assert len(set(results)) == 1
    assert ReviewRun.objects.count() == 1
    run = ReviewRun.objects.get()
    assert get_rq_queue(Queue.from_name(run.queue)).count == 1
    drain()
    assert run_of(run).status == RunStatus.COMPLETED and run_of(run).attempts == 1


def test_a_new_comment_command_on_the_same_head_is_a_new_run(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    first = pr.request(trigger=Trigger.COMMAND, trigger_key="comment:1")
    second = pr.request(trigger=Trigger.COMMAND, trigger_key="comment:2")
    assert first.pk != second.pk
    assert pr.request(trigger=Trigger.COMMAND, trigger_key="comment:1").pk == first.pk


def test_quota_exhausted_skips_the_run_and_explains_it_on_the_pr(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    limit = 0
    while billing.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key=f"other:{limit}").allowed:
        limit += 1
        assert limit < 10_000
    run = pr.request()
    drain()
    run = run_of(run)
    assert run.status == RunStatus.SKIPPED and run.skip_reason == SkipReason.QUOTA
    assert "limit" in run.skip_message.lower()
    assert not ReviewResult.objects.filter(run=run).exists()
    (summary,) = pr.summary_comments()
    assert "not reviewed" in summary.read_text() and "limit" in summary.read_text().lower()
    assert pr.status(run.head_sha)["conclusion"] == "skipped"
    assert pr.posted_reviews() == []


def test_a_newer_push_supersedes_the_older_queued_run(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    old = pr.request(trigger=Trigger.WEBHOOK)
    git_repo.commit(SECOND_PUSH, "second push")
    new = pr.request(trigger=Trigger.WEBHOOK)
    old = run_of(old)
    assert old.status == RunStatus.SKIPPED and old.skip_reason == SkipReason.SUPERSEDED
    assert old.superseded_by_id == new.pk
    drain()
    assert run_of(old).attempts == 0  # never executed
    assert run_of(new).status == RunStatus.COMPLETED
    assert pr.status(old.head_sha)["conclusion"] == "skipped"
    assert len(pr.posted_reviews()) == 1


def test_a_burst_of_pushes_within_the_debounce_window_runs_once(
    workspace, git_repo, reviews_dir, redis_conn, settings
):
    window = 2.0  # long enough that a loaded machine still drains inside it
    settings.SENTINEL_REVIEW_DEBOUNCE_SECONDS = window
    pr = open_local_pr(workspace, git_repo)
    runs = [pr.request(trigger=Trigger.WEBHOOK)]
    for i in range(2):
        git_repo.commit({f"app/extra_{i}.py": f"VALUE = {i}\n"}, f"push {i}")
        runs.append(pr.request(trigger=Trigger.WEBHOOK))
    last_request_at = time.monotonic()
    # Nothing runs before the window ends, even with a worker at hand.
    drain(with_scheduler=True)
    assert all(run_of(r).status in (RunStatus.QUEUED, RunStatus.SKIPPED) for r in runs)
    # Wait out the last push's window (measured from it, not from here), then the one run executes.
    time.sleep(max(0.0, last_request_at + window + 0.5 - time.monotonic()))
    drain(with_scheduler=True)
    statuses = [run_of(r) for r in runs]
    assert [r.status for r in statuses] == [RunStatus.SKIPPED, RunStatus.SKIPPED, RunStatus.COMPLETED]
    assert sum(r.attempts for r in statuses) == 1


def test_cancelling_a_queued_run_means_it_never_executes(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    run = pr.request()
    cancelled = services.cancel_run(run=run, actor="user:1")
    assert cancelled.status == RunStatus.CANCELLED
    assert services.cancel_run(run=cancelled, actor="user:1").status == RunStatus.CANCELLED  # idempotent
    drain()
    run = run_of(run)
    assert run.status == RunStatus.CANCELLED and run.attempts == 0
    assert pr.status(run.head_sha)["conclusion"] == "cancelled"


def test_rerun_reviews_the_same_head_again_in_full(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    first = pr.request()
    drain()
    again = services.rerun(run=run_of(first), actor="user:1")
    assert services.rerun(run=run_of(first), actor="user:1").pk == again.pk
    assert again.pk != first.pk and again.rerun_of_id == first.pk and again.head_sha == first.head_sha
    drain()
    again = run_of(again)
    assert again.status == RunStatus.COMPLETED and again.review_mode == ReviewMode.FULL
    assert again.findings.count() == run_of(first).findings.count() > 0
    # One review per run; the summary comment is updated in place.
    assert len(pr.posted_reviews()) == 2 and len(pr.summary_comments()) == 1


def test_policy_precedence_file_then_repository_then_workspace_then_system(workspace, git_repo, reviews_dir, redis_conn):
    workspace.default_review_settings = {"review": {"tone": "direct", "language": "de", "max_findings": 9}}
    workspace.save()
    config = "version: 1\nreview:\n  max_findings: 3\n"
    pr = open_local_pr(
        workspace, git_repo, head_files={".sentinel/config.yaml": config, "app/orders.py": "print(1)\n"},
        review_settings={"review": {"tone": "minimal", "max_findings": 5}},
    )
    run = pr.request()
    drain()
    run = run_of(run)
    policy = run.policy_snapshot["policy"]
    assert policy["review"]["max_findings"] == 3
    assert policy["review"]["tone"] == "minimal"
    assert policy["review"]["language"] == "de"
    assert policy["review"]["min_severity"] == "low"
    assert run.policy_version and run.policy_snapshot["config_read_from"] == "head"
    assert [s["source"] for s in run.policy_snapshot["sources"]] == ["system", "workspace", "repository", "file"]


def test_a_fork_or_untrusted_author_reads_the_config_from_the_base_commit(workspace, git_repo, reviews_dir, redis_conn):
    base_config = "version: 1\nreview:\n  max_findings: 2\n"
    head_config = "version: 1\nreview:\n  max_findings: 50\n"
    pr = open_local_pr(
        workspace, git_repo,
        base_files={".sentinel/config.yaml": base_config, "app/a.py": "A = 1\n"},
        head_files={".sentinel/config.yaml": head_config, "app/a.py": "A = 2\nprint(A)\n"},
    )
    fork = pr.request(trigger_key="fork", is_fork=True)
    outsider = pr.request(trigger_key="outsider", author_association="CONTRIBUTOR")
    member = pr.request(trigger_key="member", author_association="MEMBER")
    drain()
    assert run_of(fork).policy_snapshot["policy"]["review"]["max_findings"] == 2
    assert run_of(fork).policy_snapshot["config_read_from"] == "base"
    assert run_of(outsider).policy_snapshot["policy"]["review"]["max_findings"] == 2
    assert run_of(member).policy_snapshot["policy"]["review"]["max_findings"] == 50


def test_an_invalid_config_file_falls_back_and_is_reported_on_the_pr(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(
        workspace, git_repo,
        head_files={".sentinel/config.yaml": "version: 1\nreview:\n  max_findings: 1000\n  colour: blue\n",
                    "app/orders.py": "print('x')\n"},
        review_settings={"review": {"max_findings": 4}},
    )
    run = pr.request()
    drain()
    run = run_of(run)
    assert run.status == RunStatus.COMPLETED
    assert run.policy_snapshot["policy"]["review"]["max_findings"] == 4
    assert any("max_findings" in e for e in run.config_errors)
    text = pr.summary_comments()[0].read_text()
    assert "Configuration problems" in text and "max_findings" in text


def test_incremental_review_after_a_second_push_reviews_only_the_new_changes(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    first = pr.request()
    drain()
    first = run_of(first)
    first_prints = first.findings.filter(path="app/orders.py").count()
    assert first_prints > 0
    git_repo.commit(SECOND_PUSH, "second push")
    second = pr.request()
    drain()
    second = run_of(second)
    assert second.status == RunStatus.COMPLETED
    assert second.review_mode == ReviewMode.INCREMENTAL and second.diff_base_sha == first.head_sha
    assert second.coverage["reviewed"] == ["app/refunds.py"]
    assert set(second.findings.values_list("path", flat=True)) == {"app/refunds.py"}
    earlier = set(first.findings.values_list("fingerprint", flat=True))
    assert not earlier & set(second.findings.values_list("fingerprint", flat=True))
    assert len(pr.posted_reviews()) == 2 and len(pr.summary_comments()) == 1


def test_a_force_push_falls_back_to_a_full_review(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    first = pr.request()
    drain()
    git_repo.git("reset", "-q", "--hard", "main")
    git_repo.commit({**SECOND_PUSH, "app/orders.py": "def total(lines):\n    return 0\n"}, "rewritten")
    second = pr.request()
    drain()
    second = run_of(second)
    assert second.status == RunStatus.COMPLETED
    assert second.review_mode == ReviewMode.FULL and second.diff_base_sha == run_of(first).base_sha
    assert "force-push" in second.coverage["mode_reason"]
    assert set(second.coverage["reviewed"]) == {"app/orders.py", "app/refunds.py"}


def test_a_draft_is_skipped_when_automatic_but_reviewed_when_asked(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    auto = pr.request(trigger=Trigger.WEBHOOK, draft=True)
    drain(with_scheduler=True)
    assert run_of(auto).skip_reason == SkipReason.DRAFT
    asked = pr.request(trigger=Trigger.MANUAL, trigger_key="asked", draft=True)
    drain()
    assert run_of(asked).status == RunStatus.COMPLETED


def test_trigger_rules_skip_automatic_runs_with_the_reason(workspace, git_repo, reviews_dir, redis_conn):
    config = "version: 1\ntriggers:\n  skip_authors: [dependabot]\n"
    pr = open_local_pr(workspace, git_repo, head_files={".sentinel/config.yaml": config, "app/x.py": "X = 1\n"})
    run = pr.request(trigger=Trigger.WEBHOOK, author_login="dependabot")
    drain(with_scheduler=True)
    run = run_of(run)
    assert run.skip_reason == SkipReason.POLICY and "dependabot" in run.skip_message


def test_the_reconciler_requeues_a_run_whose_job_redis_lost(workspace, git_repo, reviews_dir, redis_conn):
    from datetime import timedelta

    from django.utils import timezone

    from queues import reconciler

    pr = open_local_pr(workspace, git_repo)
    run = pr.request()
    redis_conn.flushdb()  # Redis restarted empty
    ReviewRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    result = reconciler.run()
    assert result["sources"]["reviews.queued_runs"]["redispatched"] == 1
    assert reconciler.run()["sources"]["reviews.queued_runs"]["redispatched"] == 0  # the job exists now
    drain()
    assert run_of(run).status == RunStatus.COMPLETED


def test_the_plans_diff_line_limit_leaves_files_out_and_says_so(workspace, git_repo, reviews_dir, redis_conn):
    """The free plan reviews 2,000 changed lines per run: a larger file is skipped, the rest reviewed."""
    from billing.selectors import plan_for
    from tests.reviews.flow import FIRST_PUSH

    limit = plan_for(workspace.pk).max_diff_lines
    assert limit == 2_000
    generated = "".join(f"ROW_{n} = {n}\n" for n in range(limit + 1))
    pr = open_local_pr(workspace, git_repo, head_files={**FIRST_PUSH, "app/table.py": generated})
    run = pr.request()
    drain()
    run = run_of(run)
    assert run.status == RunStatus.COMPLETED
    assert run.coverage["reviewed"] == ["app/orders.py"]
    assert {"path": "app/table.py", "reason": "plan_limit"} in run.coverage["skipped"]
    assert set(run.findings.values_list("path", flat=True)) == {"app/orders.py"}
    (summary,) = pr.summary_comments()
    assert "`app/table.py` (plan_limit)" in summary.read_text()


@pytest.mark.parametrize("style", ["review", "comment"])
def test_ungrouped_annotations_post_each_finding_on_its_own_exactly_once(style, workspace, git_repo, reviews_dir, redis_conn):
    """`annotations.grouped: false`: a summary review plus one review per inline finding (style
    review), or one comment per finding (style comment); posting again adds nothing."""
    from reviews.annotations import finding_marker, post_for_run
    from reviews.models import Annotation, AnnotationKind, AnnotationState
    from tests.reviews.flow import FIRST_PUSH

    config = f"version: 1\nannotations:\n  style: {style}\n  grouped: false\n  post_threshold: low\n"
    pr = open_local_pr(workspace, git_repo, head_files={**FIRST_PUSH, ".sentinel/config.yaml": config})
    run = pr.request()
    drain()
    run = run_of(run)
    findings = list(run.findings.all())
    assert run.status == RunStatus.COMPLETED and len(findings) >= 2
    reviews, comments = pr.posted_reviews(), pr.provider.posted_comments(pr.ref, pr.info().number)
    if style == "review":
        kind = AnnotationKind.INLINE
        assert len(reviews) == 1 + len(findings)
        for finding in findings:  # each finding's review carries its marker and only its own comment
            (own,) = [p for p in reviews if finding_marker(run, finding) in p.read_text()]
            assert own.read_text().count("### `") == 1 and f"app/orders.py:{finding.start_line}" in own.read_text()
        assert len(comments) == 1  # the summary
    else:
        kind = AnnotationKind.FINDINGS_COMMENT
        assert reviews == []
        assert len(comments) == 1 + len(findings)
        assert all(sum(f.title in c.read_text() for c in comments) >= 1 for f in findings)
    rows = Annotation.objects.filter(run=run, kind=kind)
    assert rows.count() == len(findings) and set(rows.values_list("state", flat=True)) == {AnnotationState.POSTED}

    post_for_run(run_id=run.pk, workspace_id=run.workspace_id)  # a retry: nothing twice
    assert len(pr.posted_reviews()) == len(reviews)
    assert len(pr.provider.posted_comments(pr.ref, pr.info().number)) == len(comments)


def test_merging_the_base_branch_in_makes_the_next_review_full_not_incremental(workspace, git_repo, reviews_dir, redis_conn):
    """An incremental diff from the last reviewed head would present main's own changes as the PR's."""
    pr = open_local_pr(workspace, git_repo)
    first = pr.request()
    drain()
    assert run_of(first).status == RunStatus.COMPLETED
    git_repo.checkout("main")
    git_repo.commit({"lib/vendor_update.py": "def helper():\n    print('from main')\n"}, "work on main")
    git_repo.checkout("feature")
    git_repo.git("merge", "-q", "--no-edit", "main")
    second = pr.request()
    drain()
    second = run_of(second)
    assert second.status == RunStatus.COMPLETED
    assert second.review_mode == ReviewMode.FULL
    assert second.coverage["mode_reason"].startswith("the base branch was merged in")
    assert "lib/vendor_update.py" not in second.coverage["reviewed"]  # main's file is not the PR's change
    # A plain push after that is incremental again.
    git_repo.commit(SECOND_PUSH, "second push")
    third = pr.request()
    drain()
    third = run_of(third)
    assert third.review_mode == ReviewMode.INCREMENTAL and third.coverage["reviewed"] == ["app/refunds.py"]
