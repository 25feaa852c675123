"""The GitHub provider of the source-control interface (registered as `github`).

Every write is idempotent by a hidden marker in the body: before posting, the provider looks for
the marker among the pull request's reviews or comments, so a retried job (or a worker killed
between the call and the database write) never posts twice.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog

from integrations.github.client import GitHubClient, installation_client
from integrations.source_control.base import (
    ChangedFile,
    ChangedFiles,
    CheckStatus,
    InlineComment,
    PostedItem,
    PullRequestInfo,
    RepositoryRef,
    SourceControlError,
    SourceControlProvider,
)

log = structlog.get_logger("integrations.github.provider")

# GitHub lists at most 3,000 files of a pull request (30 pages of 100).
FILE_LIST_CAP = 3000
FILE_PAGES = FILE_LIST_CAP // 100


def pull_request_info(data: dict[str, Any]) -> PullRequestInfo:
    """A PullRequestInfo from GitHub's pull-request object (REST response or webhook payload)."""
    user = data.get("user") or {}
    head = data["head"]
    base = data["base"]
    head_repo = (head.get("repo") or {}).get("full_name")
    base_repo = (base.get("repo") or {}).get("full_name")
    return PullRequestInfo(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        author_login=str(user.get("login") or ""),
        base_ref=str(base.get("ref") or ""),
        base_sha=str(base["sha"]),
        head_ref=str(head.get("ref") or ""),
        head_sha=str(head["sha"]),
        draft=bool(data.get("draft")),
        is_fork=bool(head_repo and base_repo and head_repo != base_repo) or head.get("repo") is None,
        author_association=str(data.get("author_association") or "NONE"),
        author_is_bot=user.get("type") == "Bot",
        labels=tuple(str(label.get("name")) for label in data.get("labels") or [] if isinstance(label, dict)),
        url=str(data.get("html_url") or ""),
        state=str(data.get("state") or "open"),
    )


def _with_marker(body: str, marker: str) -> str:
    return body if marker in body else f"{body}\n\n{marker}"


def _comment_payload(comment: InlineComment) -> dict[str, Any]:
    """A review comment on new-side lines. A single line sends no start_line (GitHub rejects
    start_line == line with 422, a flaw of the original)."""
    payload: dict[str, Any] = {"path": comment.path, "body": comment.body, "line": comment.line, "side": comment.side}
    if comment.start_line is not None and comment.start_line < comment.line:
        payload["start_line"] = comment.start_line
        payload["start_side"] = comment.side
    return payload


class GitHubProvider(SourceControlProvider):
    name = "github"

    def _client(self, repo: RepositoryRef) -> GitHubClient:
        if repo.installation_id is None:
            raise SourceControlError(f"{repo.full_name} has no GitHub installation")
        return installation_client(repo.installation_id)

    @staticmethod
    def _repo_path(repo: RepositoryRef) -> str:
        owner, _, name = repo.full_name.partition("/")
        return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    # --- reads ---------------------------------------------------------------------------------

    def get_pull_request(self, repo: RepositoryRef, number: int) -> PullRequestInfo:
        _, data = self._client(repo).request("GET", f"{self._repo_path(repo)}/pulls/{int(number)}")
        return pull_request_info(data)

    def get_diff(self, repo: RepositoryRef, *, base_sha: str, head_sha: str) -> str:
        _, data = self._client(repo).request(
            "GET",
            f"{self._repo_path(repo)}/compare/{quote(base_sha, safe='')}...{quote(head_sha, safe='')}",
            headers={"Accept": "application/vnd.github.diff"},
        )
        # PyGithub hands non-JSON bodies back as {"data": text}; an empty diff as None.
        if data is None:
            return ""
        if isinstance(data, dict):
            return str(data.get("data") or "")
        return str(data)

    def list_changed_files(self, repo: RepositoryRef, *, number: int) -> ChangedFiles:
        client = self._client(repo)
        files: list[ChangedFile] = []
        for item in client.paginate(f"{self._repo_path(repo)}/pulls/{int(number)}/files", max_pages=FILE_PAGES):
            files.append(
                ChangedFile(
                    path=item["filename"],
                    status=item.get("status") or "modified",
                    additions=int(item.get("additions") or 0),
                    deletions=int(item.get("deletions") or 0),
                    patch=item.get("patch"),
                    previous_path=item.get("previous_filename"),
                )
            )
        return ChangedFiles(files=tuple(files), truncated=len(files) >= FILE_LIST_CAP)

    def get_file(self, repo: RepositoryRef, *, path: str, ref: str) -> str | None:
        try:
            _, data = self._client(repo).request(
                "GET", f"{self._repo_path(repo)}/contents/{quote(path)}", params={"ref": ref}
            )
        except SourceControlError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a directory, symlink or submodule is not a config file
        content = data.get("content") or ""
        if data.get("encoding") == "base64":
            return base64.b64decode(content).decode("utf-8", "replace")
        return str(content)

    def is_ancestor(self, repo: RepositoryRef, *, ancestor_sha: str, descendant_sha: str) -> bool:
        try:
            _, data = self._client(repo).request(
                "GET", f"{self._repo_path(repo)}/compare/{quote(ancestor_sha, safe='')}...{quote(descendant_sha, safe='')}"
            )
        except SourceControlError as exc:
            if exc.status == 404:
                return False  # a force-push dropped the commit
            raise
        return data.get("status") in ("ahead", "identical")

    # --- writes --------------------------------------------------------------------------------

    def post_review(
        self,
        repo: RepositoryRef,
        *,
        number: int,
        head_sha: str,
        marker: str,
        body: str,
        comments: list[InlineComment],
    ) -> PostedItem:
        client = self._client(repo)
        base = f"{self._repo_path(repo)}/pulls/{int(number)}"
        for review in client.paginate(f"{base}/reviews"):
            if marker in (review.get("body") or ""):
                return PostedItem(external_id=str(review["id"]), url=review.get("html_url") or "", already_existed=True)
        payload = {
            "commit_id": head_sha,
            "body": _with_marker(body, marker),
            "event": "COMMENT",  # never APPROVE/REQUEST_CHANGES: Sentinel advises, people decide
            "comments": [_comment_payload(c) for c in comments],
        }
        try:
            _, data = client.request("POST", f"{base}/reviews", input=payload)
            return PostedItem(external_id=str(data["id"]), url=data.get("html_url") or "")
        except SourceControlError as exc:
            if exc.status != 422 or not comments:
                raise
            # One comment GitHub cannot place (a line outside the diff) fails the whole review.
            # Post the summary alone, then each comment on its own, and report the ones refused.
            log.warning("github.review_rejected_posting_individually", number=number, comments=len(comments))
        _, data = client.request("POST", f"{base}/reviews", input={**payload, "comments": []})
        rejected: list[InlineComment] = []
        for comment in comments:
            try:
                client.request("POST", f"{base}/comments", input={"commit_id": head_sha, **_comment_payload(comment)})
            except SourceControlError as exc:
                if exc.status != 422:
                    raise
                rejected.append(comment)
        return PostedItem(external_id=str(data["id"]), url=data.get("html_url") or "", rejected_comments=tuple(rejected))

    def upsert_comment(self, repo: RepositoryRef, *, number: int, marker: str, body: str) -> PostedItem:
        client = self._client(repo)
        full_body = _with_marker(body, marker)
        path = self._repo_path(repo)
        for comment in client.paginate(f"{path}/issues/{int(number)}/comments"):
            if marker in (comment.get("body") or ""):
                if comment.get("body") != full_body:
                    client.request("PATCH", f"{path}/issues/comments/{int(comment['id'])}", input={"body": full_body})
                return PostedItem(external_id=str(comment["id"]), url=comment.get("html_url") or "", already_existed=True)
        _, data = client.request("POST", f"{path}/issues/{int(number)}/comments", input={"body": full_body})
        return PostedItem(external_id=str(data["id"]), url=data.get("html_url") or "")

    def set_status(
        self, repo: RepositoryRef, *, head_sha: str, name: str, status: CheckStatus, external_id: str | None = None
    ) -> str:
        client = self._client(repo)
        path = self._repo_path(repo)
        payload: dict[str, Any] = {"status": status.state}
        if status.state == "completed":
            payload["conclusion"] = status.conclusion or "neutral"
            payload["completed_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if status.title or status.summary:
            payload["output"] = {"title": status.title or name, "summary": status.summary or status.title}
        if external_id is None:
            # A retry after a lost response must update the check it created, not add a second one.
            _, existing = client.request(
                "GET", f"{path}/commits/{quote(head_sha, safe='')}/check-runs", params={"check_name": name}
            )
            runs = existing.get("check_runs") if isinstance(existing, dict) else None
            if runs:
                external_id = str(runs[0]["id"])
        if external_id is not None:
            _, data = client.request("PATCH", f"{path}/check-runs/{int(external_id)}", input=payload)
        else:
            _, data = client.request("POST", f"{path}/check-runs", input={"name": name, "head_sha": head_sha, **payload})
        return str(data["id"])
