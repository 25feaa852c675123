"""Review-run test data. Runs normally come from `reviews.services.request_review`; these build
rows directly for tests that are about one later step (state machine, posting, API reads)."""

from __future__ import annotations

import secrets

from integrations.models import Repository, SourceProvider
from reviews.models import Finding, ReviewRun, RunStatus, Trigger


def make_repository(workspace, **fields) -> Repository:
    fields.setdefault("full_name", f"acme/repo-{secrets.token_hex(3)}")
    fields.setdefault("provider", SourceProvider.LOCAL_GIT)
    return Repository.objects.create(workspace=workspace, **fields)


def make_run(workspace, repository=None, **fields) -> ReviewRun:
    repository = repository or make_repository(workspace)
    head = fields.pop("head_sha", secrets.token_hex(20))
    pr_number = fields.pop("pr_number", 1)
    return ReviewRun.objects.create(
        workspace=workspace,
        repository=repository,
        pr_number=pr_number,
        base_sha=fields.pop("base_sha", secrets.token_hex(20)),
        head_sha=head,
        trigger=fields.pop("trigger", Trigger.MANUAL),
        status=fields.pop("status", RunStatus.QUEUED),
        idempotency_key=f"run:{repository.pk}:{pr_number}:{head}:{secrets.token_hex(4)}",
        **fields,
    )


def make_finding(run: ReviewRun, **fields) -> Finding:
    return Finding.objects.create(
        run=run,
        workspace_id=run.workspace_id,
        path=fields.pop("path", "app.py"),
        start_line=fields.pop("start_line", 3),
        end_line=fields.pop("end_line", 3),
        severity=fields.pop("severity", "high"),
        category=fields.pop("category", "security"),
        title=fields.pop("title", "Shell injection"),
        body=fields.pop("body", "User input reaches a shell."),
        fingerprint=fields.pop("fingerprint", secrets.token_hex(8)),
        **fields,
    )
