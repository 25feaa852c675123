"""The local-git source-control provider: review branches of a repository on this machine.

Reading uses git itself (`git diff base...head`, `git show ref:path`, `git merge-base
--is-ancestor`). "Posting" writes Markdown and JSON under `SENTINEL_LOCAL_REVIEWS_DIR`
(default `var/reviews/`), one directory per repository and pull request:

    var/reviews/<owner__name>/pr-<n>/pull.json            the pull request (branches, title, author)
    var/reviews/<owner__name>/pr-<n>/reviews/<id>.md      one file per posted review
    var/reviews/<owner__name>/pr-<n>/comments/<id>.md     comments, updated in place
    var/reviews/<owner__name>/pr-<n>/statuses/<name>.json the check/status per head commit

A file's name is derived from the hidden marker its body carries, and the provider looks for the
marker before it writes, so posting is idempotent exactly like on GitHub.

A local "pull request" is opened with `open_pull_request()` (what `manage.py review_local`
does): it names a base and a head ref; its SHAs are the refs' current commits.

`SENTINEL_LOCAL_GIT_DELAYS` ("post_review=2,get_diff=1") slows the named calls down, so tests and
demos can stop a worker in the middle of one (fault injection; empty in production).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from unidiff import PatchSet

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

NAME = "local_git"
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def reviews_dir() -> Path:
    return Path(getattr(settings, "SENTINEL_LOCAL_REVIEWS_DIR", "") or Path(settings.BASE_DIR) / "var" / "reviews")


def _delay(operation: str) -> None:
    raw = getattr(settings, "SENTINEL_LOCAL_GIT_DELAYS", "") or ""
    for item in raw.split(","):
        name, _, seconds = item.partition("=")
        if name.strip() == operation and seconds.strip():
            time.sleep(float(seconds))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _marker_id(marker: str) -> str:
    return hashlib.sha256(marker.encode()).hexdigest()[:16]


class LocalGitProvider(SourceControlProvider):
    name = NAME

    # --- git ---------------------------------------------------------------------------------

    def _path(self, repo: RepositoryRef) -> str:
        if not repo.local_path:
            raise SourceControlError(f"repository {repo.full_name} has no local path")
        if not Path(repo.local_path).is_dir():
            raise SourceControlError(f"local repository {repo.local_path} does not exist", status=404)
        return repo.local_path

    def _git(self, repo: RepositoryRef, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["git", "-c", "core.quotepath=off", "-c", "safe.directory=*", "-C", self._path(repo), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603
        if check and result.returncode != 0:
            raise SourceControlError(f"git {args[0]} failed: {result.stderr.strip()[:500]}", status=422)
        return result

    def resolve(self, repo: RepositoryRef, ref: str) -> str:
        """The commit SHA `ref` names (branch, tag, SHA, HEAD~1, ...)."""
        return self._git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").stdout.strip()

    # --- pull requests ------------------------------------------------------------------------

    def _pr_dir(self, repo: RepositoryRef, number: int) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "__", repo.full_name)
        return reviews_dir() / slug / f"pr-{number}"

    def open_pull_request(
        self, repo: RepositoryRef, *, base_ref: str, head_ref: str, title: str = "", author: str = "local"
    ) -> PullRequestInfo:
        """Open (or find) the local pull request `head_ref` -> `base_ref` and return it with current SHAs."""
        root = self._pr_dir(repo, 0).parent
        root.mkdir(parents=True, exist_ok=True)
        number = None
        for existing in sorted(root.glob("pr-*/pull.json")):
            data = json.loads(existing.read_text())
            if data["base_ref"] == base_ref and data["head_ref"] == head_ref:
                number = int(data["number"])
                break
        if number is None:
            numbers = [int(p.name.split("-", 1)[1]) for p in root.glob("pr-*") if p.name.split("-", 1)[1].isdigit()]
            number = max(numbers, default=0) + 1
            while True:  # mkdir is atomic: two processes opening pull requests never share a number
                try:
                    self._pr_dir(repo, number).mkdir()
                    break
                except FileExistsError:
                    number += 1
            record = {
                "number": number,
                "base_ref": base_ref,
                "head_ref": head_ref,
                "title": title or f"{head_ref} into {base_ref}",
                "author": author,
            }
            _write_atomic(self._pr_dir(repo, number) / "pull.json", json.dumps(record, indent=2))
        return self.get_pull_request(repo, number)

    def get_pull_request(self, repo: RepositoryRef, number: int) -> PullRequestInfo:
        path = self._pr_dir(repo, number) / "pull.json"
        if not path.exists():
            raise SourceControlError(f"local pull request {number} of {repo.full_name} not found", status=404)
        data = json.loads(path.read_text())
        head_sha = self.resolve(repo, data["head_ref"])
        base_sha = self.resolve(repo, data["base_ref"])
        if not head_sha or not base_sha:
            raise SourceControlError(f"refs of local pull request {number} no longer resolve", status=404)
        return PullRequestInfo(
            number=number,
            title=data.get("title", ""),
            author_login=data.get("author", "local"),
            base_ref=data["base_ref"],
            base_sha=base_sha,
            head_ref=data["head_ref"],
            head_sha=head_sha,
            # Someone with the repository on disk can change it: treat as a trusted author.
            author_association="OWNER",
            url=f"file://{self._path(repo)}",
        )

    # --- reading ------------------------------------------------------------------------------

    def get_diff(self, repo: RepositoryRef, *, base_sha: str, head_sha: str) -> str:
        _delay("get_diff")
        for sha in (base_sha, head_sha):
            if not _SHA.match(sha or ""):
                raise SourceControlError(f"not a commit SHA: {sha!r}", status=422)
        return self._git(
            repo, "diff", "--no-color", "--no-ext-diff", "-M", "--src-prefix=a/", "--dst-prefix=b/",
            f"{base_sha}...{head_sha}",
        ).stdout

    def list_changed_files(self, repo: RepositoryRef, *, number: int) -> ChangedFiles:
        pr = self.get_pull_request(repo, number)
        diff = self.get_diff(repo, base_sha=pr.base_sha, head_sha=pr.head_sha)
        files = []
        for patched in PatchSet(diff):
            status = "added" if patched.is_added_file else "removed" if patched.is_removed_file else (
                "renamed" if patched.is_rename else "modified"
            )
            hunks = "".join(str(h) for h in patched) if not patched.is_binary_file else None
            files.append(
                ChangedFile(
                    path=patched.path,
                    status=status,
                    additions=patched.added,
                    deletions=patched.removed,
                    patch=hunks,
                    previous_path=patched.source_file[2:] if patched.is_rename else None,
                )
            )
        return ChangedFiles(files=tuple(files))

    def get_file(self, repo: RepositoryRef, *, path: str, ref: str) -> str | None:
        result = self._git(repo, "show", f"{ref}:{path}", check=False)
        if result.returncode != 0:
            if "does not exist" in result.stderr or "exists on disk, but not in" in result.stderr:
                return None
            if self._git(repo, "cat-file", "-e", f"{ref}^{{commit}}", check=False).returncode != 0:
                raise SourceControlError(f"unknown ref {ref!r}", status=404)
            return None
        return result.stdout

    def is_ancestor(self, repo: RepositoryRef, *, ancestor_sha: str, descendant_sha: str) -> bool:
        result = self._git(repo, "merge-base", "--is-ancestor", ancestor_sha, descendant_sha, check=False)
        # 0 = ancestor, 1 = not; anything else (unknown commit, e.g. dropped by a force-push and
        # garbage-collected) also means "not in the history".
        return result.returncode == 0

    # --- writing ------------------------------------------------------------------------------

    def _find_marker(self, folder: Path, marker: str) -> Path | None:
        if not folder.is_dir():
            return None
        for candidate in sorted(folder.glob("*.md")):
            if marker in candidate.read_text(encoding="utf-8"):
                return candidate
        return None

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
        folder = self._pr_dir(repo, number) / "reviews"
        existing = self._find_marker(folder, marker)
        if existing is not None:
            return PostedItem(external_id=existing.stem, url=existing.as_uri(), already_existed=True)
        accepted, rejected = [], []
        for comment in comments:
            # GitHub answers 422 to start_line == line (and to start_line > line); mirror it.
            if comment.line < 1 or (comment.start_line is not None and comment.start_line >= comment.line):
                rejected.append(comment)
            else:
                accepted.append(comment)
        parts = [body.rstrip(), "", f"_Commit {head_sha}_", ""]
        for comment in accepted:
            where = f"{comment.path}:{comment.start_line}-{comment.line}" if comment.start_line else f"{comment.path}:{comment.line}"
            parts += [f"### `{where}`", "", comment.body.rstrip(), ""]
        external_id = f"review-{_marker_id(marker)}"
        path = folder / f"{external_id}.md"
        _write_atomic(path, "\n".join(parts))
        _write_atomic(
            folder / f"{external_id}.json",
            json.dumps({"head_sha": head_sha, "comments": [asdict(c) for c in accepted]}, indent=2),
        )
        # Posted on the "host"; a worker killed during this pause must not post a second review.
        _delay("post_review")
        return PostedItem(external_id=external_id, url=path.as_uri(), rejected_comments=tuple(rejected))

    def upsert_comment(self, repo: RepositoryRef, *, number: int, marker: str, body: str) -> PostedItem:
        folder = self._pr_dir(repo, number) / "comments"
        existing = self._find_marker(folder, marker)
        path = existing or folder / f"comment-{_marker_id(marker)}.md"
        _write_atomic(path, body)
        return PostedItem(external_id=path.stem, url=path.as_uri(), already_existed=existing is not None)

    def set_status(
        self, repo: RepositoryRef, *, head_sha: str, name: str, status: CheckStatus, external_id: str | None = None
    ) -> str:
        folder = reviews_dir() / re.sub(r"[^A-Za-z0-9._-]+", "__", repo.full_name) / "statuses"
        key = f"{head_sha[:12]}-{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}"
        _write_atomic(folder / f"{key}.json", json.dumps({"head_sha": head_sha, "name": name, **asdict(status)}, indent=2))
        return key

    # --- for `review_local` and tests -------------------------------------------------------------

    def posted_reviews(self, repo: RepositoryRef, number: int) -> list[Path]:
        return sorted((self._pr_dir(repo, number) / "reviews").glob("*.md"))

    def posted_comments(self, repo: RepositoryRef, number: int) -> list[Path]:
        return sorted((self._pr_dir(repo, number) / "comments").glob("*.md"))

    def status_of(self, repo: RepositoryRef, *, head_sha: str, name: str) -> dict[str, Any] | None:
        folder = reviews_dir() / re.sub(r"[^A-Za-z0-9._-]+", "__", repo.full_name) / "statuses"
        path = folder / f"{head_sha[:12]}-{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}.json"
        return json.loads(path.read_text()) if path.exists() else None


def register() -> None:
    from integrations.source_control.registry import register_provider

    register_provider(NAME, LocalGitProvider)
