"""Cron jobs through the platform's schedules, the management commands, and the read-only admin."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import Client

from analytics import services
from analytics.models import Event, EventKind, Granularity, Rollup, RollupDirty
from queues.connection import SentinelJob, get_redis, get_rq_queue
from queues.schedules import SentinelScheduler, declared_schedules, sync_schedules
from queues.testing import drain
from queues.topology import Queue
from tests.analytics.factories import completed, make_repository, record
from tests.workspaces.factories import make_user, make_workspace

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_rollup_and_retention_schedules_are_declared_on_bulk() -> None:
    schedules = declared_schedules()
    rollup = schedules["analytics.update_rollups"]
    purge = schedules["analytics.purge_expired_events"]
    assert (rollup.job, rollup.cron) == ("analytics.jobs.update_rollups", "*/5 * * * *")
    assert (purge.job, purge.cron) == ("analytics.jobs.purge_expired_events", "41 2 * * *")
    from analytics import jobs

    assert jobs.update_rollups.spec.queue is Queue.BULK and jobs.purge_expired_events.spec.queue is Queue.BULK
    assert jobs.ingest_events.spec.queue is Queue.DEFAULT and jobs.backfill_events.spec.queue is Queue.BULK


def test_a_schedule_tick_runs_the_incremental_rollup_on_bulk(redis_conn) -> None:
    workspace = make_workspace()
    record(workspace, completed(datetime.now(UTC) - timedelta(minutes=5), duration_ms=1234))
    assert RollupDirty.objects.filter(workspace_id=workspace.pk).exists()
    scheduler = SentinelScheduler(connection=get_redis())
    sync_schedules(scheduler)
    template = SentinelJob.fetch("schedule-analytics-update_rollups", connection=redis_conn)
    job_id = scheduler.fire(template, datetime.now(UTC).replace(second=0, microsecond=0))
    assert job_id in get_rq_queue(Queue.BULK, redis_conn).job_ids
    drain([Queue.BULK])
    assert not RollupDirty.objects.filter(workspace_id=workspace.pk).exists()
    day = Rollup.objects.for_workspace(workspace).filter(granularity=Granularity.DAY, repository=None).get()
    assert (day.runs_completed, day.duration_sum_ms) == (1, 1234)


def test_rebuild_rollups_command_recomputes_a_workspace_from_a_date() -> None:
    workspace, other = make_workspace(), make_workspace()
    now = datetime.now(UTC)
    record(workspace, completed(now - timedelta(days=3), duration_ms=10), completed(now - timedelta(days=1), duration_ms=20))
    record(other, completed(now - timedelta(days=1), duration_ms=30))
    RollupDirty.objects.all().delete()  # pretend the cron lost them: the command must rebuild anyway
    out = io.StringIO()
    call_command("rebuild_rollups", "--workspace", workspace.slug, "--since", (now - timedelta(days=2)).date().isoformat(), stdout=out)
    assert "rollups rebuilt" in out.getvalue()
    days = dict(
        Rollup.objects.for_workspace(workspace)
        .filter(granularity=Granularity.DAY, repository=None)
        .values_list("bucket_start", "duration_sum_ms")
    )
    assert list(days.values()) == [20]  # from --since on only
    assert not Rollup.objects.for_workspace(other).exists()
    call_command("rebuild_rollups", stdout=io.StringIO())  # every workspace, whole retention window
    assert Rollup.objects.for_workspace(other).filter(granularity=Granularity.DAY).count() == 1
    assert Rollup.objects.for_workspace(workspace).filter(granularity=Granularity.DAY, repository=None).count() == 2


def test_purge_job_deletes_only_expired_events(redis_conn, settings) -> None:
    from analytics.jobs import purge_expired_events
    from queues.dispatch import dispatch

    workspace = make_workspace()
    record(workspace, completed(datetime.now(UTC) - timedelta(days=10), duration_ms=1),
           completed(datetime.now(UTC), duration_ms=2))
    settings.ANALYTICS_EVENT_RETENTION_DAYS = 5
    dispatch(purge_expired_events, workspace_id=None, entity_ids={"run": "test"})
    drain([Queue.BULK])
    assert list(Event.objects.filter(kind=EventKind.RUN_COMPLETED).values_list("data__duration_ms", flat=True)) == [2]


def test_the_reconciler_reingests_finished_runs_whose_events_never_arrived(redis_conn) -> None:
    """Redis was down when the runs' signals fired: no ingestion job, no events. The reconciler
    finds the finished runs of the last day without their terminal event and re-ingests them."""
    from queues import reconciler
    from reviews.models import RunStatus
    from tests.reviews.factories import make_finding, make_run

    workspace = make_workspace()
    repository = make_repository(workspace)
    now = datetime.now(UTC)
    lost = make_run(workspace, repository, status=RunStatus.COMPLETED, queued_at=now - timedelta(minutes=10),
                    started_at=now - timedelta(minutes=9), finished_at=now - timedelta(minutes=5))
    make_finding(lost, severity="high")
    lost_failure = make_run(workspace, repository, status=RunStatus.FAILED, started_at=now - timedelta(minutes=9),
                            finished_at=now - timedelta(minutes=4), error_code="timeout")
    just_finished = make_run(workspace, repository, status=RunStatus.COMPLETED, finished_at=now - timedelta(seconds=20))
    last_week = make_run(workspace, repository, status=RunStatus.COMPLETED, finished_at=now - timedelta(days=7))
    recorded = make_run(workspace, repository, status=RunStatus.SKIPPED, finished_at=now - timedelta(minutes=5))
    record(workspace, services.EventInput(key=f"run_skipped:{recorded.pk}", kind="run_skipped", occurred_at=now))

    counts = reconciler.run(redis_conn)["sources"]["analytics.runs_missing_events"]
    assert (counts["checked"], counts["redispatched"]) == (2, 2)
    assert sorted(get_rq_queue(Queue.BULK, redis_conn).job_ids) == sorted(
        [f"analytics-backfill-run-{lost.pk}", f"analytics-backfill-run-{lost_failure.pk}"]
    )
    drain([Queue.BULK])
    keys = set(Event.objects.for_workspace(workspace).values_list("idempotency_key", flat=True))
    assert {f"run_created:{lost.pk}", f"run_started:{lost.pk}", f"run_completed:{lost.pk}",
            f"run_failed:{lost_failure.pk}"} <= keys
    assert Event.objects.filter(kind=EventKind.FINDING_REPORTED, workspace=workspace).count() == 1
    assert Event.objects.get(idempotency_key=f"run_failed:{lost_failure.pk}").data["error_code"] == "timeout"
    assert not {f"run_completed:{just_finished.pk}", f"run_completed:{last_week.pk}"} & keys
    # Recorded now: nothing left for the next pass, even once Redis has forgotten the jobs.
    redis_conn.flushdb()
    assert reconciler.run(redis_conn)["sources"]["analytics.runs_missing_events"]["checked"] == 0


def test_backfill_queues_past_review_runs_on_bulk_and_skips_recorded_events(redis_conn) -> None:
    from reviews.models import ReviewRun, RunStatus
    from tests.reviews.factories import make_finding, make_run

    workspace = make_workspace()
    repository = make_repository(workspace)
    start = datetime.now(UTC) - timedelta(days=2)
    run = make_run(workspace, repository, status=RunStatus.COMPLETED, queued_at=start,
                   started_at=start + timedelta(seconds=5), finished_at=start + timedelta(seconds=65), input_tokens=7)
    make_finding(run, severity="critical")
    skipped = make_run(workspace, repository, status=RunStatus.SKIPPED, skip_reason="")
    record(workspace, services.EventInput(key=f"run_created:{run.pk}", kind="run_created", occurred_at=start))
    out = io.StringIO()
    call_command("backfill_events", "--workspace", workspace.slug, stdout=out)
    assert "1 backfill job(s) queued on bulk" in out.getvalue()
    assert len(get_rq_queue(Queue.BULK, redis_conn).job_ids) == 1
    drain([Queue.BULK])
    keys = set(Event.objects.for_workspace(workspace).values_list("idempotency_key", flat=True))
    assert {f"run_created:{run.pk}", f"run_started:{run.pk}", f"run_completed:{run.pk}",
            f"run_created:{skipped.pk}", f"run_skipped:{skipped.pk}"} <= keys
    assert Event.objects.filter(kind=EventKind.FINDING_REPORTED, workspace=workspace).count() == 1
    assert Event.objects.get(idempotency_key=f"run_completed:{run.pk}").data["duration_ms"] == 60_000
    assert ReviewRun.objects.filter(workspace=workspace).count() == 2
    before = Event.objects.for_workspace(workspace).count()
    call_command("backfill_events", "--workspace", workspace.slug, stdout=io.StringIO())  # same job id: not queued
    redis_conn.flushdb()  # Redis forgot: queued again, and the events' keys skip them
    call_command("backfill_events", "--workspace", workspace.slug, stdout=io.StringIO())
    drain([Queue.BULK])
    assert Event.objects.for_workspace(workspace).count() == before


# --- admin -------------------------------------------------------------------------------------


def _operator() -> Client:
    user = make_user("operator", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_shows_events_and_rollups_read_only() -> None:
    workspace = make_workspace()
    item = completed(datetime.now(UTC), duration_ms=5, repository=make_repository(workspace))
    record(workspace, item)
    services.update_rollups()
    event = Event.objects.get(idempotency_key=item.key)
    rollup = Rollup.objects.for_workspace(workspace).filter(granularity=Granularity.DAY, repository=None).get()
    client = _operator()
    listing = client.get("/admin/analytics/event/", {"q": item.key})
    assert listing.status_code == 200 and item.key in listing.content.decode()
    detail = client.get(f"/admin/analytics/event/{event.pk}/change/")
    body = detail.content.decode()
    assert detail.status_code == 200 and "duration_ms" in body
    assert 'name="_save"' not in body  # no save button: read-only
    assert client.get("/admin/analytics/event/add/").status_code == 403
    assert client.post(f"/admin/analytics/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/analytics/event/{event.pk}/change/", {"actor": "x"}).status_code == 403
    assert Event.objects.filter(pk=event.pk, actor="").exists()
    assert client.get("/admin/analytics/rollup/").status_code == 200
    rollup_page = client.get(f"/admin/analytics/rollup/{rollup.pk}/change/")
    assert rollup_page.status_code == 200 and 'name="_save"' not in rollup_page.content.decode()
    assert client.get("/admin/analytics/rollup/add/").status_code == 403


def test_the_admin_action_queues_a_rebuild_on_bulk(redis_conn) -> None:
    workspace = make_workspace()
    record(workspace, completed(datetime.now(UTC), duration_ms=5))
    services.update_rollups()
    rollup = Rollup.objects.for_workspace(workspace).filter(granularity=Granularity.DAY).first()
    operator = _operator()
    data = {"action": "recompute_workspaces", "_selected_action": [rollup.pk]}
    confirm = operator.post("/admin/analytics/rollup/", data)  # the console's confirmation page first
    assert "Recompute 1 of 1" in confirm.content.decode()
    response = operator.post("/admin/analytics/rollup/", {**data, "console_confirm": "yes"}, follow=True)
    assert response.status_code == 200
    assert "rollup recomputation queued for 1 workspace(s)" in response.content.decode()
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.filter(object_id=str(rollup.pk), change_message__startswith="Recompute:").exists()
    assert any(j.startswith("analytics-jobs-rebuild_rollups") or "rebuild" in j
               for j in get_rq_queue(Queue.BULK, redis_conn).job_ids)
    drain([Queue.BULK])
