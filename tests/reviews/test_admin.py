"""The operator admin pages of review runs, findings and annotations render, read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from reviews.models import Annotation, AnnotationKind, AnnotationState, ReviewResult, RunStatus
from tests.reviews.factories import make_finding, make_run

pytestmark = pytest.mark.django_db


def test_admin_pages_render_and_offer_no_edit(client, workspace):
    admin = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin)
    run = make_run(workspace, status=RunStatus.COMPLETED, coverage={"reviewed": ["a.py"]})
    ReviewResult.objects.create(run=run, workspace=workspace, summary="ok", findings_count=1)
    finding = make_finding(run)
    Annotation.objects.create(run=run, workspace=workspace, kind=AnnotationKind.SUMMARY, state=AnnotationState.POSTED)

    for path in ("reviewrun", "finding", "annotation"):
        page = client.get(f"/admin/reviews/{path}/")
        assert page.status_code == 200, path
    detail = client.get(f"/admin/reviews/reviewrun/{run.pk}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert run.head_sha in text and finding.title in text and f"review-run-{run.pk}" in text
    assert client.get("/admin/reviews/reviewrun/add/").status_code == 403
    assert client.get(f"/admin/reviews/reviewrun/?status__exact=completed&q={run.head_sha[:8]}").status_code == 200
