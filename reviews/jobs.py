"""Review jobs. Each takes ids from its envelope, fetches, and calls a service (docs/queues.md).

- `release_review_run`: the end of a webhook run's debounce wait; queues its execution.
- `execute_review_run` (ExecuteReviewRun): on the workspace's tier queue, within its concurrency
  limit; claims the run, checks the plan, resolves the policy, reviews, persists.
- `post_annotations` (PostAnnotations): on `annotations`; posts the review, the summary comment
  and the status exactly once per run.
"""

from __future__ import annotations

from typing import Any

from queues.control import report_progress
from queues.declaration import job
from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue


@job(
    queue=Queue.REVIEWS_DEFAULT,
    retry=RetryPolicy.DATABASE,
    job_id="review-run-release-{review_run_id}",
    limit_concurrency=False,
    throttle=False,
)
def release_review_run(envelope: Envelope) -> str:
    from reviews import services

    return services.release_run(run_id=envelope.entity_ids["review_run_id"], workspace_id=envelope.workspace_id)


@job(queue=Queue.REVIEWS_DEFAULT, retry=RetryPolicy.LLM, job_id="review-run-{review_run_id}")
def execute_review_run(envelope: Envelope) -> dict[str, Any]:
    """The declared queue is the free tier's; `dispatch(queue=...)` puts it on the workspace's tier."""
    from reviews import execution

    return execution.execute_run(
        run_id=envelope.entity_ids["review_run_id"],
        workspace_id=envelope.workspace_id,
        progress=report_progress,
    )


@job(
    queue=Queue.ANNOTATIONS,
    retry=RetryPolicy.EXTERNAL_API,
    job_id="review-annotations-{review_run_id}",
    limit_concurrency=False,
)
def post_annotations(envelope: Envelope) -> dict[str, Any]:
    from reviews import annotations

    return annotations.post_for_run(run_id=envelope.entity_ids["review_run_id"], workspace_id=envelope.workspace_id)
