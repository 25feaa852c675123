"""The operator console in a real browser: dashboard, a breached SLA, dead-letter replay, run re-run.

Screenshots of each page go to tests/artifacts/console-*.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry

from queues.connection import SentinelJob
from queues.dispatch import dispatch
from queues.models import DeadLetter
from queues.testing import drain
from queues.topology import Queue
from reviews.models import ReviewRun, RunStatus
from tests.console import jobs
from tests.console.conftest import make_dead_letters  # noqa: F401 - fixture
from tests.reviews.factories import make_run
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db(transaction=True)


def test_dashboard_highlights_a_breached_sla(page, staff_login, screenshot, redis_conn):
    for n in range(3):  # some history for the charts
        dispatch(jobs.fails_until_fixed, workspace_id=None, entity_ids={"n": n}, data={"marker": str(n)})
    drain([Queue.DEFAULT])
    job_id = dispatch(jobs.webhook_fails, workspace_id=None, entity_ids={"n": 1}, data={})
    old = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    redis_conn.hset(f"rq:job:{job_id}", "enqueued_at", old)
    staff_login()
    page.click("text=Operations dashboard")
    page.wait_for_url("**/admin/operations/")
    row = page.locator("#queue-webhooks")
    assert row.get_attribute("class") == "sla-breached"
    assert "SLA breached" in row.inner_text()
    assert row.locator("td.depth").inner_text() == "1"
    # Breached rows are painted red (not just labelled).
    background = row.locator("td").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(253, 226, 225)"
    assert page.locator("#queue-default").get_attribute("class") == ""
    assert page.locator("#ops-breaches").inner_text() == "1"
    assert page.locator("#ops-chart-grid svg.chart").count() == 2  # default's throughput and wait
    assert "3 jobs, 0 failed" in page.locator("#chart-default").inner_text()
    screenshot("console-dashboard-sla-breached")
    # The live table refreshes itself: the next fetch shows the queue emptied meanwhile.
    redis_conn.delete("rq:queue:webhooks")
    page.wait_for_function(
        "document.querySelector('#queue-webhooks td.depth').innerText === '0'", timeout=15_000
    )
    assert page.locator("#ops-breaches").inner_text() == "0"


def test_replay_a_dead_letter_and_see_it_run(page, staff_login, screenshot, make_dead_letters, redis_conn):  # noqa: F811
    (letter,) = make_dead_letters(1)
    redis_conn.delete("console:broken")  # the cause is fixed
    staff_login()
    page.goto("/admin/queues/deadletter/?status=pending")
    assert page.locator("#result_list tbody tr").count() == 1
    screenshot("console-dead-letters")
    page.click(f"#result_list a[href^='/admin/queues/deadletter/{letter.pk}/change/']")
    page.click("a.console-action-button:has-text('Replay')")
    assert "Replay 1 of 1 dead letter" in page.locator("[data-testid=console-summary]").inner_text()
    page.fill("#id_console_reason", "upstream fixed")
    screenshot("console-replay-confirm")
    page.click("#console-confirm-submit")
    assert "Replay: 1 dead letter done" in page.locator(".messagelist").inner_text()
    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.REPLAYED
    drain()  # a worker picks the replayed job up
    assert [m.decode() for m in redis_conn.lrange("console:ran", 0, -1)] == [letter.payload["data"]["marker"]]
    assert SentinelJob.fetch(letter.job_id, connection=redis_conn).get_status() == "finished"
    # django-rq's own job page (linked from the console) shows it finished.
    page.goto("/admin/rq/")
    page.goto(f"/admin/rq/queues/{_rq_index('default')}/{letter.job_id}/")
    assert "finished" in page.locator("body").inner_text().lower()
    screenshot("console-replayed-job-finished")
    entry = LogEntry.objects.get()
    assert entry.change_message.startswith("Replay: job ") and entry.change_message.endswith(
        "reason: upstream fixed"
    )


def test_rerun_a_failed_review(page, staff_login, screenshot, redis_conn):
    failed = make_run(
        make_workspace(), status=RunStatus.FAILED, error_code="provider_error", correlation_id="corr-browser-1"
    )
    staff_login()
    page.goto(f"/admin/reviews/reviewrun/{failed.pk}/change/")
    page.click("a.console-action-button:has-text('Re-run')")
    assert "Re-run 1 of 1 review run" in page.locator("[data-testid=console-summary]").inner_text()
    screenshot("console-rerun-confirm")
    page.click("#console-confirm-submit")
    message = page.locator(".messagelist").inner_text()
    new_run = ReviewRun.objects.get(rerun_of=failed)
    assert re.search(rf"new run {new_run.pk}\b", message)
    screenshot("console-rerun-done")
    page.click("a:has-text('trace corr-browser-1')")
    assert f"run {failed.pk}" in page.locator("#trace").inner_text()
    screenshot("console-trace")
    page.goto("/admin/admin/logentry/")
    assert f"Re-run: new run {new_run.pk}" in page.locator("#result_list").inner_text()
    screenshot("console-audit-log")


def test_non_staff_see_no_console_page(page, django_user_model):
    django_user_model.objects.create_user(username="member", password="member-pass-123")
    page.goto("/admin/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "member-pass-123")
    page.click("input[type=submit]")
    for url in (
        "/admin/operations/",
        "/admin/queues/deadletter/",
        "/admin/rq/",
        "/admin/operations/trace/?q=x",
    ):
        page.goto(url)
        assert "/admin/login/" in page.url, url
        assert page.locator("#ops, #result_list, #trace").count() == 0


def _rq_index(name: str) -> int:
    from django_rq.settings import get_queues_map

    return get_queues_map()[name]
