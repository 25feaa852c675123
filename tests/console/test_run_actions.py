"""Review runs in the console: re-run and cancel through reviews.services, confirmed and audited."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from reviews.models import ReviewRun, RunStatus
from tests.reviews.factories import make_run
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:reviews_reviewrun_changelist"


def post_action(client, action, pks, **extra):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [str(p) for p in pks], **extra}
    )


@pytest.fixture
def runs(redis_conn):
    workspace = make_workspace()
    failed = make_run(
        workspace, status=RunStatus.FAILED, error_code="provider_error", correlation_id="corr-run-1"
    )
    queued = make_run(workspace, repository=failed.repository, pr_number=2, status=RunStatus.QUEUED)
    return failed, queued


def test_rerun_of_a_failed_run_creates_a_linked_run_and_an_audit_entry(client, superuser, runs):
    failed, queued = runs
    client.force_login(superuser)
    confirm = post_action(client, "rerun", [failed.pk, queued.pk], index="0").content.decode()
    assert "Re-run 1 of 2 review runs" in confirm
    assert "still queued" in confirm
    assert ReviewRun.objects.count() == 2
    post_action(client, "rerun", [failed.pk, queued.pk], console_confirm="yes")
    new_run = ReviewRun.objects.get(rerun_of=failed)
    assert new_run.head_sha == failed.head_sha
    assert new_run.requested_by_actor == "admin:root-op"
    entry = LogEntry.objects.get(object_id=str(failed.pk))
    assert entry.user == superuser
    assert entry.change_message == f"Re-run: new run {new_run.pk} ({new_run.status})"
    assert not LogEntry.objects.filter(object_id=str(queued.pk)).exists()


def test_cancel_from_the_run_page_ends_the_run_and_is_audited(
    client, staff_operator, runs, django_user_model
):
    from django.contrib.auth.models import Permission

    staff_operator.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="reviews", codename__in=["change_reviewrun", "view_reviewrun"]
        )
    )
    _, queued = runs
    client.force_login(staff_operator)
    page = client.get(reverse("admin:reviews_reviewrun_change", args=[queued.pk])).content.decode()
    url = reverse("admin:reviews_reviewrun_console_action", args=[queued.pk, "cancel"])
    assert url in page
    assert client.get(url).status_code == 200
    client.post(url, {"console_confirm": "yes", "console_reason": "stuck"})
    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELLED
    assert queued.cancelled_by == "admin:oncall"
    assert LogEntry.objects.get().change_message == f"Cancel: run {queued.pk} cancelled — reason: stuck"


def test_bulk_cancel_is_superuser_only(client, staff_operator, runs):
    from django.contrib.auth.models import Permission

    staff_operator.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="reviews", codename__in=["change_reviewrun", "view_reviewrun"]
        )
    )
    failed, queued = runs
    other = make_run(queued.workspace, repository=queued.repository, pr_number=3, status=RunStatus.RUNNING)
    client.force_login(staff_operator)
    post_action(client, "cancel", [queued.pk, other.pk], console_confirm="yes")
    assert set(ReviewRun.objects.values_list("status", flat=True)) == {"failed", "queued", "running"}
    assert not LogEntry.objects.exists()


def test_run_page_links_everything_related_and_every_link_works(client, superuser, runs):
    failed, _ = runs
    client.force_login(superuser)
    page = client.get(reverse("admin:reviews_reviewrun_change", args=[failed.pk])).content.decode()
    related = re.search(r'<div class="readonly">([^\n]*?dead letter[^\n]*?)</div>', page).group(1)
    links = dict(
        (text, html.unescape(url)) for url, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', related)
    )
    assert set(links) >= {
        "0 finding(s)",
        "0 annotation(s)",
        "0 dead letter(s)",
        "usage records",
        "trace corr-run-1",
    }
    assert f"job_id__in=review-run-{failed.pk}" in links["0 dead letter(s)"].replace("%2C", ",")
    for text, url in links.items():
        response = client.get(url)
        assert response.status_code == 200, (text, url, response.get("Location"))
    trace = client.get(links["trace corr-run-1"]).content.decode()
    assert reverse("admin:reviews_reviewrun_change", args=[failed.pk]) in trace


def test_runs_are_found_by_pull_request_url_and_correlation_id(client, superuser, runs):
    failed, queued = runs
    client.force_login(superuser)
    url = reverse(CHANGELIST)
    pr_url = f"https://github.com/{failed.repository.full_name}/pull/{failed.pr_number}"
    assert [r.pk for r in client.get(url, {"q": pr_url}).context["cl"].result_list] == [failed.pk]
    assert [r.pk for r in client.get(url, {"q": "corr-run-1"}).context["cl"].result_list] == [failed.pk]
