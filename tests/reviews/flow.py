"""Helpers for the end-to-end review tests: a local pull request, worker processes, waiting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integrations.models import Repository, SourceProvider
from integrations.source_control.base import PullRequestInfo, RepositoryRef
from integrations.source_control.registry import get_provider
from queues.connection import get_redis
from reviews import services
from reviews.models import Annotation, AnnotationKind, AnnotationState, ReviewRun, Trigger
from tests.queues.conftest import Workers, wait_for  # noqa: F401 - re-exported for the tests

REVIEW_QUEUES = ["reviews-enterprise", "reviews-paid", "reviews-default", "annotations"]

BASE_FILES = {
    "app/__init__.py": "",
    "app/orders.py": "def total(lines):\n    return sum(p * q for p, q in lines)\n",
}
# The offline engine flags debug prints (low) and SQL built from values (high).
FIRST_PUSH = {
    "app/orders.py": (
        "def total(lines):\n    return sum(p * q for p, q in lines)\n\n\n"
        "def find(db, customer):\n"
        "    query = \"SELECT id FROM orders WHERE customer = '%s'\" % customer\n"
        "    print(query)\n"
        "    return db.execute(query).fetchall()\n"
    ),
}
SECOND_PUSH = {
    "app/refunds.py": (
        "def refund(db, order_id):\n"
        "    sql = \"DELETE FROM refunds WHERE order_id = \" + str(order_id)\n"
        "    print(sql)\n"
        "    return db.execute(sql)\n"
    ),
}


@dataclass
class LocalPR:
    repository: Repository
    ref: RepositoryRef
    git: Any  # tests.reviews.conftest.GitRepo

    @property
    def provider(self) -> Any:
        return get_provider(SourceProvider.LOCAL_GIT)

    def info(self, **overrides: Any) -> PullRequestInfo:
        pr = self.provider.open_pull_request(self.ref, base_ref="main", head_ref="feature", title="Orders")
        if overrides:
            pr = PullRequestInfo(**{**pr.__dict__, **overrides})
        return pr

    def request(self, *, trigger: str = Trigger.MANUAL, trigger_key: str = "", **overrides: Any) -> ReviewRun:
        pr = self.info(**overrides)
        return services.request_review(
            repository=self.repository,
            pr_number=pr.number,
            base_sha=pr.base_sha,
            head_sha=pr.head_sha,
            trigger=trigger,
            trigger_key=trigger_key,
            pull_request=pr,
        )

    def posted_reviews(self) -> list[Path]:
        return self.provider.posted_reviews(self.ref, self.info().number)

    def summary_comments(self) -> list[Path]:
        return [p for p in self.provider.posted_comments(self.ref, self.info().number) if "sentinel:summary" in p.read_text()]

    def status(self, head_sha: str) -> dict | None:
        return self.provider.status_of(self.ref, head_sha=head_sha, name="Sentinel review")


def open_local_pr(workspace: Any, git_repo: Any, *, base_files: dict[str, str] | None = None,
                  head_files: dict[str, str] | None = None, **repo_fields: Any) -> LocalPR:
    git_repo.commit(base_files if base_files is not None else BASE_FILES, "base")
    git_repo.checkout("feature", create=True)
    git_repo.commit(head_files if head_files is not None else FIRST_PUSH, "first push")
    repository = Repository.objects.create(
        workspace=workspace,
        provider=SourceProvider.LOCAL_GIT,
        full_name=f"local/{git_repo.path.name}-{workspace.pk}",
        local_path=str(git_repo.path),
        **repo_fields,
    )
    ref = RepositoryRef(provider=SourceProvider.LOCAL_GIT, full_name=repository.full_name, local_path=str(git_repo.path))
    return LocalPR(repository=repository, ref=ref, git=git_repo)


def worker_env(reviews_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "SENTINEL_LOCAL_REVIEWS_DIR": str(reviews_dir),
        "SENTINEL_RETRY_BACKOFF_SCALE": "0.1",
        "SENTINEL_REVIEW_DEBOUNCE_SECONDS": "0",
        **extra,
    }


def start_workers(workers: Workers, reviews_dir: Path, count: int = 1, **env: str) -> list[subprocess.Popen]:
    return [workers.start(REVIEW_QUEUES, env=worker_env(reviews_dir, **env)) for _ in range(count)]


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False).stdout
    children = [int(p) for p in out.split()]
    return children + [d for c in children for d in _descendants(c)]


def kill(workers: Workers, proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its work-horse (rq puts the horse in its own process group)."""
    for pid in _descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    workers.kill(proc, signal.SIGKILL)
    # The dead worker's scheduler locks would make the replacement wait up to a minute before it
    # moves the retry (a scheduled job) onto its queue; production waits, the test need not.
    connection = get_redis()
    for key in connection.scan_iter("rq:scheduler-lock:*"):
        connection.delete(key)


def events(log_text: str, run_id: int) -> list[str]:
    names = []
    for line in log_text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == "reviews.event" and record.get("run_id") == run_id:
            names.append(record["event_name"])
    return names


def finished(run: ReviewRun) -> ReviewRun | None:
    run = ReviewRun.objects.get(pk=run.pk)
    return run if run.is_terminal else None


def reported(run: ReviewRun) -> bool:
    """The run ended and its outcome (status last) is on the pull request."""
    return Annotation.objects.filter(run_id=run.pk, kind=AnnotationKind.STATUS, state=AnnotationState.POSTED).exists()
