"""Fixtures of the reviews tests: real git repositories on disk, a local-git Repository row,
the local provider's output directory under tmp_path."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.models import Repository, SourceProvider
from tests.workspaces.factories import make_workspace


class GitRepo:
    """A throwaway git repository: write files, commit, branch, force-push (reset)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "Dev")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def checkout(self, branch: str, *, create: bool = False) -> None:
        self.git("checkout", "-q", *(["-b"] if create else []), branch)

    def sha(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)


@pytest.fixture
def reviews_dir(tmp_path: Path, settings) -> Path:
    path = tmp_path / "posted"
    settings.SENTINEL_LOCAL_REVIEWS_DIR = str(path)
    return path


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[GitRepo]:
    yield GitRepo(tmp_path / "repo")


def make_local_repository(workspace, path: Path, *, name: str = "local/sample", **fields) -> Repository:
    return Repository.objects.create(
        workspace=workspace, provider=SourceProvider.LOCAL_GIT, full_name=name, local_path=str(path), **fields
    )


@pytest.fixture
def workspace(db):
    return make_workspace()


@pytest.fixture(autouse=True)
def no_debounce(settings):
    """Tests opt in to the debounce wait (test_flow sets it where it is the subject)."""
    settings.SENTINEL_REVIEW_DEBOUNCE_SECONDS = 0
