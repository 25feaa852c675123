"""Idempotency: one side effect however many times a job runs or workers race."""

from __future__ import annotations

import pytest

from queues.dispatch import dispatch
from queues.idempotency import idempotent, run_once
from queues.models import IdempotencyKey
from tests.queues import jobs
from tests.queues.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_once_runs_the_side_effect_once_and_returns_the_stored_result():
    calls = []
    assert run_once("k1", lambda: calls.append(1) or {"posted": 1}) == (True, {"posted": 1})
    assert run_once("k1", lambda: calls.append(1) or {"posted": 2}) == (False, {"posted": 1})
    assert calls == [1]


def test_a_failing_side_effect_releases_its_key():
    with pytest.raises(RuntimeError), idempotent("k2") as first:
        assert first
        raise RuntimeError
    assert not IdempotencyKey.objects.filter(key="k2").exists()
    with idempotent("k2") as first:
        assert first


@pytest.mark.workers
def test_two_workers_racing_on_one_side_effect_give_one_effect(redis_conn, workers):
    for n in range(2):
        dispatch(jobs.side_effect, workspace_id=None, entity_ids={"n": n}, data={"key": "post-review-42"})
    workers.start(["default"], worker="simple")
    workers.start(["default"], worker="simple")
    wait_for(lambda: redis_conn.get("tq:side:attempts") == b"2", timeout=30)
    wait_for(lambda: IdempotencyKey.objects.filter(key="post-review-42").exists())
    import time

    time.sleep(1)  # let the slower of the two finish its transaction
    assert redis_conn.get("tq:side:effects") == b"1"
    assert IdempotencyKey.objects.filter(key="post-review-42").count() == 1
