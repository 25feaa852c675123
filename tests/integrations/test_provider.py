"""The GitHub provider and client against the local fake GitHub server (GitHub's wire format)."""

from __future__ import annotations

import time

import jwt
import pytest

from integrations.github import auth
from integrations.github.client import RateLimitBudget, installation_client
from integrations.source_control import (
    CheckStatus,
    InlineComment,
    RepositoryRef,
    SourceControlError,
    get_provider,
    hidden_marker,
)
from tests.integrations.conftest import APP_ID, app_key

REPO = "Codertocat/Hello-World"
INSTALLATION = 957387
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


@pytest.fixture
def ref() -> RepositoryRef:
    return RepositoryRef(provider="github", full_name=REPO, installation_id=INSTALLATION)


@pytest.fixture
def provider():
    return get_provider("github")


def test_the_provider_is_registered_as_github(provider) -> None:
    assert provider.name == "github"


def test_app_jwt_is_rs256_with_the_app_as_issuer_and_under_ten_minutes(github_settings) -> None:
    token = auth.app_jwt()
    claims = jwt.decode(token, app_key()[1], algorithms=["RS256"])
    assert claims["iss"] == APP_ID
    assert claims["exp"] - claims["iat"] <= 600
    assert claims["iat"] <= time.time() - 30  # backdated for clock drift


def test_installation_token_is_minted_once_and_cached(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    provider.get_pull_request(ref, 2)
    provider.get_pull_request(ref, 2)
    minted = fake_github.calls_to("POST", r"^/app/installations/957387/access_tokens$")
    assert len(minted) == 1
    assert minted[0].headers["Authorization"].startswith("Bearer ")
    pulls = fake_github.calls_to("GET", r"/pulls/2$")
    assert len(pulls) == 2 and all(c.installation_id == INSTALLATION for c in pulls)


def test_pull_request_details_come_from_githubs_response(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD, base_sha="a" * 40, author="Codertocat")
    info = provider.get_pull_request(ref, 2)
    assert (info.number, info.head_sha, info.base_sha, info.author_login) == (2, HEAD, "a" * 40, "Codertocat")
    assert info.state == "open" and not info.draft


def test_changed_files_are_paginated_and_the_3000_file_cap_is_reported(fake_github, provider, ref) -> None:
    files = [fake_github.file_entry(f"src/f{i}.py", "@@ -0,0 +1 @@\n+x", status="added") for i in range(3050)]
    fake_github.add_pull(REPO, number=7, head_sha=HEAD, files=files)
    changed = provider.list_changed_files(ref, number=7)
    assert len(changed.files) == 3000
    assert changed.truncated is True
    assert len(fake_github.calls_to("GET", r"/pulls/7/files$")) == 30

    fake_github.add_pull(REPO, number=8, head_sha=HEAD, files=files[:150])
    few = provider.list_changed_files(ref, number=8)
    assert len(few.files) == 150 and few.truncated is False
    assert few.files[0].patch == "@@ -0,0 +1 @@\n+x" and few.files[0].additions == 1


def test_file_content_at_a_ref_and_none_when_missing(fake_github, provider, ref) -> None:
    fake_github.repo(REPO).contents[(".sentinel.yml", HEAD)] = "reviews:\n  min_severity: high\n"
    assert provider.get_file(ref, path=".sentinel.yml", ref=HEAD) == "reviews:\n  min_severity: high\n"
    assert provider.get_file(ref, path=".sentinel.yml", ref="other") is None


def test_post_review_sends_one_review_with_multi_line_and_suggestion_comments_once(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    marker = hidden_marker("review-run", 41)
    comments = [
        InlineComment(path="src/app.py", line=2, body="**high** Use a constant"),
        InlineComment(path="src/app.py", line=3, start_line=1, body="Simplify:\n```suggestion\nb = 1\n```"),
    ]
    first = provider.post_review(ref, number=2, head_sha=HEAD, marker=marker, body="Summary", comments=comments)
    again = provider.post_review(ref, number=2, head_sha=HEAD, marker=marker, body="Summary", comments=comments)
    assert again.already_existed and again.external_id == first.external_id
    posts = fake_github.calls_to("POST", r"/pulls/2/reviews$")
    assert len(posts) == 1
    body = posts[0].body
    assert body["event"] == "COMMENT" and body["commit_id"] == HEAD and marker in body["body"]
    single, multi = body["comments"]
    assert single == {"path": "src/app.py", "body": "**high** Use a constant", "line": 2, "side": "RIGHT"}
    assert (multi["start_line"], multi["line"], multi["start_side"], multi["side"]) == (1, 3, "RIGHT", "RIGHT")
    assert "```suggestion" in multi["body"]


def test_a_review_github_refuses_for_one_comment_posts_the_rest(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    fake_github.fail_next("POST", r"/pulls/2/reviews$", status=422, message="Unprocessable Entity")
    fake_github.fail_next("POST", r"/pulls/2/comments$", status=422, message="line must be part of the diff")
    comments = [InlineComment(path="src/app.py", line=99, body="outside"), InlineComment(path="src/app.py", line=2, body="inside")]
    posted = provider.post_review(ref, number=2, head_sha=HEAD, marker=hidden_marker("review-run", 5), body="S", comments=comments)
    assert [c.body for c in posted.rejected_comments] == ["outside"]
    assert len(fake_github.repo(REPO).reviews[2]) == 1
    assert [c["body"] for c in fake_github.repo(REPO).review_comments[2]] == ["inside"]


def test_upsert_comment_creates_then_edits_in_place(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    marker = hidden_marker("summary", 2)
    first = provider.upsert_comment(ref, number=2, marker=marker, body="v1")
    second = provider.upsert_comment(ref, number=2, marker=marker, body="v2")
    assert second.external_id == first.external_id and second.already_existed
    comments = fake_github.repo(REPO).issue_comments[2]
    assert len(comments) == 1 and comments[0]["body"].startswith("v2") and marker in comments[0]["body"]
    assert len(fake_github.calls_to("PATCH", r"/issues/comments/\d+$")) == 1


def test_check_run_goes_queued_in_progress_completed_without_duplicates(fake_github, provider, ref) -> None:
    fake_github.repo(REPO)
    check_id = provider.set_status(ref, head_sha=HEAD, name="Sentinel", status=CheckStatus(state="queued"))
    # A retry that lost the id finds the same check run by name instead of creating another.
    again = provider.set_status(ref, head_sha=HEAD, name="Sentinel", status=CheckStatus(state="in_progress"))
    provider.set_status(ref, head_sha=HEAD, name="Sentinel", external_id=check_id, status=CheckStatus(
        state="completed", conclusion="neutral", title="Skipped", summary="Coverage: 0 of 3 files (quota)"))
    assert again == check_id
    runs = list(fake_github.repo(REPO).check_runs.values())
    assert len(runs) == 1
    assert (runs[0]["status"], runs[0]["conclusion"]) == ("completed", "neutral")
    assert runs[0]["output"]["summary"] == "Coverage: 0 of 3 files (quota)"
    assert len(fake_github.calls_to("POST", r"/check-runs$")) == 1


def test_secondary_rate_limit_is_transient_with_githubs_retry_after(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    fake_github.fail_next("GET", r"/pulls/2$", status=403, headers={"Retry-After": "7"},
                          message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
    with pytest.raises(SourceControlError) as caught:
        provider.get_pull_request(ref, 2)
    assert caught.value.transient and caught.value.status == 403
    assert 6 <= caught.value.retry_after <= 7


def test_5xx_is_transient_and_404_is_not(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    fake_github.fail_next("GET", r"/pulls/2$", status=502, message="Server Error")
    with pytest.raises(SourceControlError) as bad_gateway:
        provider.get_pull_request(ref, 2)
    assert bad_gateway.value.transient and bad_gateway.value.status == 502
    with pytest.raises(SourceControlError) as missing:
        provider.get_pull_request(ref, 404)
    assert not missing.value.transient and missing.value.status == 404
    assert provider.get_pull_request(ref, 2).number == 2  # the next call goes through


def test_an_exhausted_installation_waits_without_calling_github_and_others_keep_going(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    fake_github.add_pull("octo-org/other", number=3, head_sha=HEAD)
    other = RepositoryRef(provider="github", full_name="octo-org/other", installation_id=111)
    reset = int(time.time()) + 120
    fake_github.rate_remaining[INSTALLATION] = 1
    fake_github.rate_reset[INSTALLATION] = reset
    provider.get_pull_request(ref, 2)  # answered with x-ratelimit-remaining: 0
    calls_before = len(fake_github.calls)
    with pytest.raises(SourceControlError) as caught:
        provider.get_pull_request(ref, 2)
    assert caught.value.transient and 100 <= caught.value.retry_after <= 122
    assert len(fake_github.calls) == calls_before  # no request spent
    assert provider.get_pull_request(other, 3).number == 3  # another installation is unaffected
    assert RateLimitBudget(f"installation:{INSTALLATION}").snapshot()["remaining"] == "0"


def test_a_revoked_token_is_forgotten_and_reminted(fake_github, provider, ref) -> None:
    fake_github.add_pull(REPO, number=2, head_sha=HEAD)
    provider.get_pull_request(ref, 2)
    fake_github.tokens.clear()  # GitHub revoked every token
    with pytest.raises(SourceControlError) as caught:
        provider.get_pull_request(ref, 2)
    assert caught.value.transient and caught.value.status == 401
    assert provider.get_pull_request(ref, 2).number == 2
    assert len(fake_github.calls_to("POST", r"/access_tokens$")) == 2


def test_diff_and_ancestry(fake_github, provider, ref) -> None:
    fake_github.repo(REPO).diffs[f"{'a' * 40}...{HEAD}"] = "diff --git a/x b/x\n+1\n"
    assert provider.get_diff(ref, base_sha="a" * 40, head_sha=HEAD) == "diff --git a/x b/x\n+1\n"
    assert provider.is_ancestor(ref, ancestor_sha="a" * 40, descendant_sha=HEAD) is True
    assert provider.is_ancestor(ref, ancestor_sha="c" * 40, descendant_sha=HEAD) is False
    assert installation_client(INSTALLATION).budget.snapshot()["remaining"]
