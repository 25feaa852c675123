"""The summary comment's text for a completed run (what the PR's readers are told)."""

from __future__ import annotations

import pytest

from reviews.annotations import failure_body, summary_body
from reviews.models import ReviewResult, RunStatus
from tests.reviews.factories import make_run
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db


def _completed_run(extra: dict) -> object:
    workspace = make_workspace()
    run = make_run(workspace, status=RunStatus.COMPLETED, provider="offline", model="rules")
    ReviewResult.objects.create(run=run, workspace=workspace, summary="Looks fine.", risk_level="low", extra=extra)
    run.refresh_from_db()
    return run


def test_a_rejected_key_the_review_fell_back_from_is_reported_with_what_to_do() -> None:
    attempts = [{"provider": "openai", "model": "gpt-4o-mini", "code": "auth_failed", "status": 401,
                 "message": "Incorrect API key provided: sk-proj-****wxyz."}]
    body = summary_body(_completed_run({"failed_attempts": attempts}), outside=[])
    assert "### Provider fallback" in body
    assert "- `openai` / `gpt-4o-mini` failed (auth_failed): the provider rejected the workspace's key." in body
    assert "now marked invalid" in body and "`ai/keys/`" in body
    assert "sk-" not in body and "wxyz" not in body  # the provider's own words never reach the PR


def test_an_overloaded_provider_is_reported_without_the_key_advice() -> None:
    attempts = [{"provider": "anthropic", "model": "", "code": "overloaded", "message": "529 overloaded"}]
    body = summary_body(_completed_run({"failed_attempts": attempts}), outside=[])
    assert "- `anthropic` failed (overloaded): the provider was overloaded." in body and "marked invalid" not in body


def test_no_fallback_section_when_the_first_provider_reviewed() -> None:
    assert "Provider fallback" not in summary_body(_completed_run({"failed_attempts": []}), outside=[])


def test_a_failed_runs_comment_keeps_the_providers_words_out_of_the_pull_request() -> None:
    workspace = make_workspace()
    run = make_run(workspace, status=RunStatus.FAILED, provider="openai", model="gpt-4o-mini", error_code="auth_failed",
                   error_message="Incorrect API key provided: sk-proj-****wxyz.")
    body = failure_body(run)
    assert f"- Message: The provider rejected the workspace's key (the provider's message is on run {run.pk} in Sentinel)." in body
    assert "sk-" not in body and "wxyz" not in body
    ours = make_run(workspace, status=RunStatus.FAILED, error_code="source_control_error",
                    error_message="Reading the pull request failed: 404")
    assert "- Message: Reading the pull request failed: 404" in failure_body(ours)
