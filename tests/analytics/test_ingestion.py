"""Ingestion: signals -> receivers -> jobs on `default` -> one Event per domain fact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics import services
from analytics.models import AppendOnlyError, Event, EventKind
from integrations import signals as integration_signals
from queues.connection import get_redis, get_rq_queue
from queues.models import DeadLetter
from queues.testing import drain
from queues.topology import Queue
from tests.analytics.factories import completed, make_repository, record
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db(transaction=True)


def queued(queue: Queue, prefix: str = "analytics-ingest-command_executed") -> list:
    """Our ingestion jobs (other apps' signals, e.g. billing's on workspace creation, queue theirs too)."""
    return [j for j in get_rq_queue(queue, get_redis()).get_jobs() if j.id.startswith(prefix)]


def send_command_executed(workspace, repository, run_id: int = 41) -> None:
    integration_signals.command_executed.send(
        sender=None,
        workspace_id=workspace.pk,
        repository_id=repository.pk,
        command="review",
        status="completed",
        command_run_id=run_id,
    )


def test_a_signal_queues_ingestion_on_default_and_writes_nothing_inline(redis_conn) -> None:
    workspace = make_workspace()
    repository = make_repository(workspace)
    drain([Queue.DEFAULT])  # what creating the workspace queued
    before = Event.objects.count()
    send_command_executed(workspace, repository)
    assert Event.objects.count() == before  # nothing written in the sender's flow
    jobs = queued(Queue.DEFAULT)
    assert [j.id for j in jobs] == ["analytics-ingest-command_executed-41"]
    assert jobs[0].args[0]["workspace_id"] == workspace.pk
    drain([Queue.DEFAULT])
    event = Event.objects.get(kind=EventKind.COMMAND_EXECUTED)
    assert (event.kind, event.workspace_id, event.repository_id) == (EventKind.COMMAND_EXECUTED, workspace.pk, repository.pk)
    assert event.data == {"command": "review", "status": "completed", "command_run_id": 41}
    assert event.idempotency_key == "command_executed:41"


def test_the_same_domain_event_delivered_twice_is_one_event(redis_conn) -> None:
    workspace = make_workspace()
    repository = make_repository(workspace)
    send_command_executed(workspace, repository)
    send_command_executed(workspace, repository)  # while Redis still knows the job: not queued again
    assert len(queued(Queue.DEFAULT)) == 1
    drain([Queue.DEFAULT])
    redis_conn.flushdb()  # Redis forgot the job (restart, retention): the Event's unique key holds
    send_command_executed(workspace, repository)
    drain([Queue.DEFAULT])
    assert Event.objects.filter(idempotency_key="command_executed:41").count() == 1


def test_repository_signals_record_the_actor_and_repository(redis_conn) -> None:
    from tests.workspaces.factories import make_user

    workspace = make_workspace()
    repository = make_repository(workspace, "acme/api")
    actor = make_user("admin")
    integration_signals.repository_disabled.send(sender=type(repository), repository=repository, actor=actor)
    drain([Queue.DEFAULT])
    event = Event.objects.get(kind=EventKind.REPOSITORY_DISABLED)
    assert event.actor == f"user:{actor.pk}"
    assert event.repository_id == repository.pk
    assert event.data["full_name"] == "acme/api"


def test_a_malformed_ingestion_payload_becomes_a_dead_letter_without_retries(redis_conn) -> None:
    from analytics.jobs import ingest_events
    from queues.dispatch import dispatch

    workspace = make_workspace()
    dispatch(
        ingest_events,
        workspace_id=workspace.pk,
        entity_ids={"key": "broken"},
        data={"events": [{"key": "x", "kind": "no_such_kind", "occurred_at": timezone.now().isoformat()}]},
    )
    drain([Queue.DEFAULT])
    letter = DeadLetter.objects.get(job_id="analytics-ingest-broken")
    assert "unknown event kind" in letter.error
    assert not Event.objects.filter(idempotency_key="x").exists()


# --- append-only -------------------------------------------------------------------------------


def test_events_are_never_updated_or_deleted_through_the_orm() -> None:
    workspace = make_workspace()
    item = completed(datetime.now(UTC), duration_ms=1)
    record(workspace, item)
    event = Event.objects.get(idempotency_key=item.key)
    event.actor = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).update(actor="tampered")
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).delete()
    assert Event.objects.get(pk=event.pk).actor == ""


def test_postgresql_refuses_an_update_issued_in_sql() -> None:
    workspace = make_workspace()
    record(workspace, completed(datetime.now(UTC), duration_ms=1))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_event SET actor = 'tampered'")


def test_deleting_a_workspace_removes_its_events() -> None:
    workspace = make_workspace()
    record(workspace, completed(datetime.now(UTC) - timedelta(hours=1), duration_ms=1))
    services.update_rollups()
    workspace.delete()
    assert Event.objects.count() == 0


# --- review-run signals with real reviews rows ----------------------------------------------------


def test_a_review_runs_signals_become_events_and_rollups(redis_conn) -> None:
    from analytics.models import Granularity, Rollup
    from reviews import signals as review_signals
    from reviews.models import Annotation, AnnotationKind, AnnotationState, ReviewRun, RunStatus
    from tests.reviews.factories import make_finding, make_run

    workspace = make_workspace()
    repository = make_repository(workspace)
    # yesterday 10:00 UTC: every timestamp of the run falls in one UTC day, whenever the test runs
    queued_at = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    queued_at += timedelta(hours=10)
    run = make_run(workspace, repository, queued_at=queued_at)
    ReviewRun.objects.filter(pk=run.pk).update(created_at=queued_at)
    run.refresh_from_db()
    review_signals.run_created.send(sender=ReviewRun, run=run)
    ReviewRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=queued_at + timedelta(seconds=30))
    run.refresh_from_db()
    review_signals.run_started.send(sender=ReviewRun, run=run)
    ReviewRun.objects.filter(pk=run.pk).update(
        status=RunStatus.COMPLETED,
        finished_at=queued_at + timedelta(seconds=30 + 95),
        provider="offline",
        model="rules",
        input_tokens=1200,
        output_tokens=300,
        cost_microusd=4500,
    )
    run.refresh_from_db()
    findings = [make_finding(run, severity="high", category="security"), make_finding(run, severity="low", category="style")]
    review_signals.run_completed.send(sender=ReviewRun, run=run)
    review_signals.finding_reported.send(sender=ReviewRun, run=run, findings=findings)
    annotation = Annotation.objects.create(
        run=run, workspace=workspace, kind=AnnotationKind.REVIEW, state=AnnotationState.POSTED,
        posted_at=run.finished_at + timedelta(seconds=2),
    )
    review_signals.annotation_posted.send(sender=ReviewRun, run=run, annotation=annotation)
    review_signals.run_completed.send(sender=ReviewRun, run=run)  # a re-delivery
    drain([Queue.DEFAULT])

    review_kinds = [k for k in EventKind.values if k.startswith(("run_", "finding_", "annotation_"))]
    kinds = sorted(Event.objects.for_workspace(workspace).filter(kind__in=review_kinds).values_list("kind", flat=True))
    assert kinds == sorted(["run_created", "run_started", "run_completed", "finding_reported", "finding_reported",
                            "annotation_posted"])
    done = Event.objects.get(idempotency_key=f"run_completed:{run.pk}")
    assert done.occurred_at == run.finished_at and done.repository_id == repository.pk
    assert done.data["duration_ms"] == 95_000
    assert (done.data["input_tokens"], done.data["output_tokens"], done.data["cost_microusd"]) == (1200, 300, 4500)
    assert Event.objects.get(idempotency_key=f"run_started:{run.pk}").data["queue_wait_ms"] == 30_000

    services.update_rollups()
    day = Rollup.objects.for_workspace(workspace).get(
        granularity=Granularity.DAY, repository=None, bucket_start=queued_at - timedelta(hours=10)
    )
    assert (day.runs_created, day.runs_started, day.runs_completed) == (1, 1, 1)
    assert (day.duration_p50_ms, day.queue_wait_p95_ms) == (95_000, 30_000)
    assert day.findings_by_severity == {"high": 1, "low": 1}
    assert day.findings_by_category == {"security": 1, "style": 1}
    assert (day.input_tokens, day.cost_microusd, day.annotations_posted) == (1200, 4500, 1)
