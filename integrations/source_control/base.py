"""The source-control interface: what a review run needs from a pull request's host.

Every method is idempotent where it writes: posting is keyed by a hidden marker placed in the
body, and a provider looks for the marker before it posts again. That is what makes "exactly one
review per run" hold across retries and workers killed mid-call.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal

MARKER_PREFIX = "sentinel"


def hidden_marker(kind: str, key: str | int) -> str:
    """An HTML comment that GitHub renders invisibly, e.g. `<!-- sentinel:review-run:42 -->`."""
    return f"<!-- {MARKER_PREFIX}:{kind}:{key} -->"


class SourceControlError(Exception):
    """A provider call failed. `transient` errors may be retried; others are deterministic."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class RepositoryRef:
    """Where a repository lives. GitHub uses `full_name` + `installation_id`; local git uses `local_path`."""

    provider: str
    full_name: str
    installation_id: int | None = None
    local_path: str | None = None


@dataclass(frozen=True)
class PullRequestInfo:
    number: int
    title: str
    author_login: str
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    draft: bool = False
    is_fork: bool = False
    # GitHub's author_association (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...).
    author_association: str = "NONE"
    author_is_bot: bool = False
    labels: tuple[str, ...] = ()
    url: str = ""
    state: str = "open"


FileStatus = Literal["added", "modified", "removed", "renamed", "copied", "changed", "unchanged"]


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: FileStatus
    additions: int = 0
    deletions: int = 0
    # Unified-diff hunk text for this file (no file header); None when the host withholds it
    # (binary or too large).
    patch: str | None = None
    previous_path: str | None = None


@dataclass(frozen=True)
class ChangedFiles:
    files: tuple[ChangedFile, ...]
    # True when the host stopped listing (GitHub lists at most 3,000 files): coverage is clipped.
    truncated: bool = False


@dataclass(frozen=True)
class InlineComment:
    """A comment on new-side lines `start_line..line` (single line: start_line is None)."""

    path: str
    line: int
    body: str
    start_line: int | None = None
    side: Literal["RIGHT", "LEFT"] = "RIGHT"


@dataclass(frozen=True)
class PostedItem:
    external_id: str
    url: str = ""
    # True when the marker was found and nothing new was posted.
    already_existed: bool = False
    # Inline comments the host rejected (e.g. a line outside the diff); the rest were posted.
    rejected_comments: tuple[InlineComment, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class CheckStatus:
    state: Literal["queued", "in_progress", "completed"]
    # Only with state == "completed". Sentinel never reports "success" for a skipped/failed review.
    conclusion: Literal["success", "neutral", "failure", "cancelled", "skipped"] | None = None
    title: str = ""
    summary: str = ""


class SourceControlProvider(abc.ABC):
    """One pull-request host. Implementations: integrations.github (GitHub), local git."""

    name: str

    @abc.abstractmethod
    def get_pull_request(self, repo: RepositoryRef, number: int) -> PullRequestInfo: ...

    @abc.abstractmethod
    def get_diff(self, repo: RepositoryRef, *, base_sha: str, head_sha: str) -> str:
        """The unified diff from `base_sha` to `head_sha` (what changed on the head side)."""

    @abc.abstractmethod
    def list_changed_files(self, repo: RepositoryRef, *, number: int) -> ChangedFiles: ...

    @abc.abstractmethod
    def get_file(self, repo: RepositoryRef, *, path: str, ref: str) -> str | None:
        """The file's text at `ref`, or None when it does not exist there."""

    @abc.abstractmethod
    def is_ancestor(self, repo: RepositoryRef, *, ancestor_sha: str, descendant_sha: str) -> bool:
        """Whether `ancestor_sha` is in `descendant_sha`'s history (False after a force-push dropped it)."""

    @abc.abstractmethod
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
        """Post one review (summary body + inline comments) unless one carrying `marker` exists."""

    @abc.abstractmethod
    def upsert_comment(self, repo: RepositoryRef, *, number: int, marker: str, body: str) -> PostedItem:
        """Create the PR comment carrying `marker`, or update it in place if it exists."""

    @abc.abstractmethod
    def set_status(
        self, repo: RepositoryRef, *, head_sha: str, name: str, status: CheckStatus, external_id: str | None = None
    ) -> str:
        """Create or update the check/status named `name` on `head_sha`; returns its external id."""
