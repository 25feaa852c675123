"""Duplicates and races across real processes (two OS processes, each with its own PostgreSQL
connection, released together by a barrier)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from billing import plans, services
from billing.models import QuotaCounter, RunReservation, UsageRecord, UsageTotal
from tests.billing.factories import workspace_on

pytestmark = pytest.mark.django_db(transaction=True)

CTX = multiprocessing.get_context("fork")


def _child(barrier: Any, results: Any, func: Callable[[], Any]) -> None:
    connections.close_all()  # never share the parent's socket
    try:
        barrier.wait(timeout=20)
        results.put(("ok", func()))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(exc)))
    finally:
        connections.close_all()


def race(*funcs: Callable[[], Any]) -> list[Any]:
    """Run each function in its own process, all starting at the same moment; return their results."""
    connections.close_all()
    barrier = CTX.Barrier(len(funcs))
    results = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(barrier, results, f)) for f in funcs]
    for proc in procs:
        proc.start()
    out = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    errors = [value for status, value in out if status == "error"]
    assert not errors, errors
    return [value for _, value in out]


def test_concurrent_duplicate_usage_from_two_processes_makes_one_record() -> None:
    workspace = workspace_on("pro")
    for i in range(5):
        key = f"input_tokens:race-{i}"

        def record(key: str = key) -> bool:
            _, created = services.record_usage(
                workspace_id=workspace.pk, metric="input_tokens", quantity=100, idempotency_key=key
            )
            return created

        created_flags = race(record, record)
        assert sorted(created_flags) == [False, True], key
        assert UsageRecord.objects.filter(idempotency_key=key).count() == 1
    total = UsageTotal.objects.get(workspace=workspace, metric="input_tokens")
    assert total.quantity == 500  # each key counted once


def test_same_run_reserved_by_two_processes_counts_once() -> None:
    workspace = workspace_on("free")

    def reserve() -> bool:
        return services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key="review_run:77").allowed

    assert race(reserve, reserve) == [True, True]
    assert RunReservation.objects.filter(run_key="review_run:77").count() == 1
    assert QuotaCounter.objects.get(workspace=workspace, metric="review_run").used == 1


def test_two_processes_racing_for_the_last_run_get_one_slot() -> None:
    workspace = workspace_on("free")
    limit = plans.free().review_runs_per_month
    for i in range(limit - 1):
        services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key=f"review_run:fill-{i}")

    def reserve(key: str) -> Callable[[], tuple[bool, str | None]]:
        def call() -> tuple[bool, str | None]:
            decision = services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key=key)
            return decision.allowed, decision.reason

        return call

    outcomes = race(reserve("review_run:a"), reserve("review_run:b"))
    assert sorted(outcomes, key=str) == sorted([(True, None), (False, "quota_exhausted")], key=str)
    assert QuotaCounter.objects.get(workspace=workspace, metric="review_run").used == limit


def test_two_commands_racing_for_the_last_one_get_one_and_a_retry_counts_once() -> None:
    """The check-then-meter race: 49 of 50 used (in the ledger), two commands claim at once."""
    workspace = workspace_on("free")
    limit = plans.free().commands_per_month
    for i in range(limit - 1):
        services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key=f"command:{i}")
    assert services.check_command_allowed(workspace_id=workspace.pk).allowed  # the read-only check: both would pass

    def claim(command_run_id: int) -> Callable[[], bool]:
        return lambda: services.reserve_command(workspace_id=workspace.pk, command_run_id=command_run_id).allowed

    assert sorted(race(claim(901), claim(902))) == [False, True]
    assert QuotaCounter.objects.get(workspace=workspace, metric="command").used == limit
    winner = RunReservation.objects.get(run_key__startswith="command_run:").run_key
    assert services.reserve_command(workspace_id=workspace.pk, command_run_id=int(winner.split(":")[1])).allowed
    assert not services.reserve_command(workspace_id=workspace.pk, command_run_id=903).allowed
    assert QuotaCounter.objects.get(workspace=workspace, metric="command").used == limit
