"""`manage.py review_local`: a real run through worker processes; JSON for scripts; exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from reviews.models import ReviewRun, RunStatus
from tests.queues import conftest as queues_conftest
from tests.reviews.flow import FIRST_PUSH, Workers, start_workers, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(tmp_path: Path, redis_conn):
    manager = Workers(tmp_path)
    yield manager
    manager.stop_all()


def _env(reviews_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": queues_conftest.test_database_url(), "REDIS_URL": settings.REDIS_URL,
            "SENTINEL_LOCAL_REVIEWS_DIR": str(reviews_dir)}


def review_local(reviews_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "review_local", *args], cwd=ROOT, env=_env(reviews_dir), capture_output=True,
        text=True, timeout=180, check=False,
    )


def review_local_async(reviews_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "review_local", *args], cwd=ROOT, env=_env(reviews_dir),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_review_local_waits_and_prints_json_and_fails_nonzero(workspace, git_repo, reviews_dir, workers):
    git_repo.commit({"app/__init__.py": ""}, "base")
    git_repo.checkout("feature", create=True)
    git_repo.commit(FIRST_PUSH, "feature")
    start_workers(workers, reviews_dir)

    done = review_local(reviews_dir, "--repo", str(git_repo.path), "--base", "main", "--head", "feature",
                        "--workspace", workspace.slug, "--wait", "--format", "json", "--timeout", "90")
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    assert payload["status"] == "completed" and payload["coverage"]["reviewed"] == ["app/orders.py"]
    assert {"file", "start_line", "end_line", "severity", "category", "title"} <= set(payload["findings"][0])
    assert len(payload["posted_reviews"]) == 1

    # A run that fails (the repository is gone when the worker reads it) exits 1; a bad ref is
    # refused before any run exists.
    bad_ref = review_local(reviews_dir, "--repo", str(git_repo.path), "--base", "main", "--head", "no-such-branch",
                           "--workspace", workspace.slug, "--wait")
    assert bad_ref.returncode != 0 and "no-such-branch" in bad_ref.stderr
    git_repo.commit({"app/more.py": "print(2)\n"}, "more")
    workers.stop_all()
    waiting = review_local_async(reviews_dir, "--repo", str(git_repo.path), "--base", "main", "--head", "feature",
                                 "--workspace", workspace.slug, "--wait", "--timeout", "90")
    wait_for(lambda: ReviewRun.objects.filter(head_sha=git_repo.sha("feature")).exists(), timeout=60)
    git_repo.path.rename(git_repo.path.with_name("gone"))
    start_workers(workers, reviews_dir)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 1, err[-2000:]
    failed = ReviewRun.objects.exclude(pk=payload["run_id"]).get()
    assert failed.status == RunStatus.FAILED and failed.error_code == "source_control_error"
    assert "failed" in out
