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


def queued(queue: Queue) -> list:
    return get_rq_queue(queue, get_redis()).get_jobs()


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
    send_command_executed(workspace, repository)
    assert Event.objects.count() == 0  # nothing written in the sender's flow
    jobs = queued(Queue.DEFAULT)
    assert [j.id for j in jobs] == ["analytics-ingest-command_executed-41"]
    assert jobs[0].args[0]["workspace_id"] == workspace.pk
    drain([Queue.DEFAULT])
    event = Event.objects.get()
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
    letter = DeadLetter.objects.get()
    assert "unknown event kind" in letter.error
    assert Event.objects.count() == 0


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
