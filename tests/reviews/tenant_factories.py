"""Tenant factories of the reviews app for the cross-tenant walk (see tests/tenancy.py)."""

from __future__ import annotations

from reviews.models import Finding, ReviewRun, RunStatus
from tests.reviews.factories import make_finding, make_run
from tests.tenancy import tenant_factory


@tenant_factory(ReviewRun)
def make_review_run(workspace) -> ReviewRun:
    return make_run(workspace, status=RunStatus.COMPLETED)


@tenant_factory(Finding)
def make_review_finding(workspace) -> Finding:
    return make_finding(make_run(workspace, status=RunStatus.COMPLETED))
