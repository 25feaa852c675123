"""The runs and findings API: filters, detail with findings and coverage, cancel, re-run, roles."""

from __future__ import annotations

import pytest

from queues.testing import drain
from reviews.models import ReviewRun, RunStatus
from tests.reviews.flow import SECOND_PUSH, open_local_pr
from tests.workspaces.factories import add_member, session_client
from workspaces.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


def url(workspace, path=""):
    return f"/api/v1/workspaces/{workspace.slug}/{path}"


def test_runs_list_filters_and_detail_with_findings_and_coverage(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    first = pr.request()
    drain()
    git_repo.commit(SECOND_PUSH, "second push")
    queued = pr.request()
    client = session_client(workspace.owner)

    listed = client.get(url(workspace, "runs/")).json()
    assert [r["id"] for r in listed["results"]] == [queued.pk, first.pk]
    only_completed = client.get(url(workspace, "runs/"), {"status": "completed"}).json()
    assert [r["id"] for r in only_completed["results"]] == [first.pk]
    by_repo = client.get(url(workspace, "runs/"), {"repository": pr.repository.pk, "created_after": "2000-01-01T00:00:00Z"})
    assert by_repo.json()["count"] == 2
    assert client.get(url(workspace, "runs/"), {"created_before": "2000-01-01T00:00:00Z"}).json()["count"] == 0

    # Offsets PostgreSQL does not take (it stops at ±15:59) are compared in UTC, not a 500.
    assert client.get(url(workspace, "runs/"), {"created_after": "2000-01-01T00:00:00+19:46"}).json()["count"] == 2
    assert client.get(url(workspace, "runs/"), {"created_before": "0733-06-25T15:12:39-18:51"}).json()["count"] == 0
    out_of_range = client.get(url(workspace, "runs/"), {"created_after": "0001-01-01T00:00:00+05:00"})
    assert out_of_range.status_code == 400 and "created_after" in str(out_of_range.json())

    detail = client.get(url(workspace, f"runs/{first.pk}/")).json()
    assert detail["status"] == "completed"
    assert detail["coverage"]["reviewed"] == ["app/orders.py"]
    assert detail["findings"] and {"path", "start_line", "severity", "category", "title"} <= set(detail["findings"][0])
    assert detail["result"]["findings_count"] == len(detail["findings"])

    findings = client.get(url(workspace, "findings/"), {"severity": "high"}).json()["results"]
    assert findings and all(f["severity"] == "high" for f in findings)
    assert client.get(url(workspace, "findings/"), {"category": "nonexistent"}).json()["count"] == 0


def test_members_cancel_and_rerun_viewers_cannot(workspace, git_repo, reviews_dir, redis_conn):
    pr = open_local_pr(workspace, git_repo)
    run = pr.request()
    viewer = add_member(workspace, Role.VIEWER).user
    assert session_client(viewer).post(url(workspace, f"runs/{run.pk}/cancel/")).status_code == 403

    member = add_member(workspace, Role.MEMBER).user
    client = session_client(member)
    rerun_too_early = client.post(url(workspace, f"runs/{run.pk}/rerun/"))
    assert rerun_too_early.status_code == 409 and rerun_too_early.json()["error"]["code"] == "run_active"
    cancelled = client.post(url(workspace, f"runs/{run.pk}/cancel/"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert ReviewRun.objects.get(pk=run.pk).cancelled_by == f"user:{member.pk}"

    again = client.post(url(workspace, f"runs/{run.pk}/rerun/"))
    assert again.status_code == 201 and again.json()["id"] != run.pk
    drain()
    assert ReviewRun.objects.get(pk=again.json()["id"]).status == RunStatus.COMPLETED
    finished = client.post(url(workspace, f"runs/{again.json()['id']}/cancel/"))
    assert finished.status_code == 409
