"""The run state machine: conditional UPDATEs, one winner, signals only after commit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from reviews import signals, state
from reviews.execution import run_lock
from reviews.models import ReviewRun, RunStatus
from tests.reviews.factories import make_run


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_one_run_have_exactly_one_winner(workspace):
    run = make_run(workspace)
    barrier = threading.Barrier(4)
    results = []

    def claim():
        barrier.wait()
        try:
            results.append(state.transition(run.pk, to=RunStatus.RUNNING, from_=[RunStatus.QUEUED]))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r is not None]) == 1
    assert ReviewRun.objects.get(pk=run.pk).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_execution_lock_is_held_by_one_session_at_a_time(workspace):
    run = make_run(workspace)
    seen = []

    def other():
        with run_lock("execute", run.pk) as got:
            seen.append(got)
        connection.close()

    with run_lock("execute", run.pk) as mine:
        assert mine
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [False]
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [False, True]


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_cannot_move_and_signals_fire_only_after_commit(workspace):
    run = make_run(workspace)
    received = []

    def listener(sender, run, **kwargs):
        received.append(run.status)

    signals.run_cancelled.connect(listener)
    try:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                assert state.transition(run.pk, to=RunStatus.CANCELLED) is not None
                raise RuntimeError("roll back")
        assert received == []
        assert ReviewRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
        assert state.transition(run.pk, to=RunStatus.CANCELLED) is not None
        assert received == [RunStatus.CANCELLED]
        assert state.transition(run.pk, to=RunStatus.RUNNING) is None
        with pytest.raises(ValueError):
            state.transition(run.pk, to=RunStatus.COMPLETED, from_=[RunStatus.QUEUED])
    finally:
        signals.run_cancelled.disconnect(listener)
