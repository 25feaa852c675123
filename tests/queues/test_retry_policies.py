"""The production retry policies, as values (the seeds' table), and their rq translation."""

from __future__ import annotations

import random

import pytest

from queues.retry import FIXED, RetryPolicy


@pytest.mark.parametrize(
    ("policy", "attempts", "base_intervals"),
    [
        (RetryPolicy.WEBHOOK, 3, [2, 4, 8]),
        (RetryPolicy.EXTERNAL_API, 3, [2, 4, 8]),
        (RetryPolicy.LLM, 3, [10, 20, 40]),
        (RetryPolicy.OUTBOUND_WEBHOOK, 5, [30, 60, 120, 240, 480]),
        (RetryPolicy.DATABASE, 2, [1, 1]),
    ],
)
def test_named_policies_have_the_seed_table_values(policy, attempts, base_intervals, settings):
    settings.SENTINEL_RETRY_BACKOFF_SCALE = 1.0
    assert policy.attempts == attempts
    assert policy.base_intervals() == base_intervals
    rq_retry = policy.to_rq()
    assert rq_retry.max == attempts
    assert len(rq_retry.intervals) == attempts  # exactly as long as the attempts
    for interval, base in zip(rq_retry.intervals, base_intervals, strict=True):
        assert base <= interval <= round(base * (1 + policy.jitter))


def test_database_policy_is_fixed_and_the_others_exponential():
    assert RetryPolicy.DATABASE.backoff == FIXED
    assert {p.backoff for p in (RetryPolicy.WEBHOOK, RetryPolicy.LLM, RetryPolicy.OUTBOUND_WEBHOOK)} == {"exponential"}


def test_jitter_spreads_retries_of_jobs_that_failed_together(settings):
    settings.SENTINEL_RETRY_BACKOFF_SCALE = 1.0
    rng = random.Random(1)
    seen = {tuple(RetryPolicy.OUTBOUND_WEBHOOK.intervals(rng=rng)) for _ in range(20)}
    assert len(seen) > 1


def test_backoff_scale_shortens_intervals_but_not_below_one_second(settings):
    settings.SENTINEL_RETRY_BACKOFF_SCALE = 0.1
    intervals = RetryPolicy.LLM.intervals(rng=random.Random(0))
    assert intervals[0] == 1 and intervals[-1] in (4, 5)
    assert RetryPolicy.NONE.to_rq() is None
