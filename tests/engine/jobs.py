"""A declared job running the review engine, for the dead-letter test (rq imports it by path)."""

from __future__ import annotations

from queues.declaration import job
from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue
from reviews.engine.service import review
from reviews.engine.types import EngineRequest


@job(queue=Queue.DEFAULT, retry=RetryPolicy.NONE)
def review_diff(envelope: Envelope) -> str:
    result = review(
        EngineRequest(
            workspace_id=envelope.workspace_id, diff=envelope.data["diff"], policy=envelope.data["policy"]
        )
    )
    return result.summary
