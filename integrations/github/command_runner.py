"""Execute one CommandRun (the body of ExecuteCommand, queue `commands`).

Steps: claim the run (queued/running -> running); refuse commenters who are not OWNER, MEMBER or
COLLABORATOR; ask billing whether the plan has commands left; do the command; answer in the pull
request with one comment keyed by the command's comment id; finish (completed / denied / failed)
and send `command_executed` after commit (billing meters it from there).
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from integrations import services, signals
from integrations.github import commands
from integrations.models import CommandRun, CommandStatus, Repository
from integrations.source_control import RepositoryRef, get_provider, hidden_marker

log = structlog.get_logger("integrations.github.commands")


def repository_ref(repository: Repository) -> RepositoryRef:
    installation = repository.installation
    return RepositoryRef(
        provider=repository.provider,
        full_name=repository.full_name,
        installation_id=installation.github_installation_id if installation else None,
        local_path=repository.local_path or None,
    )


def _claim(command_run_id: int, workspace_id: int) -> CommandRun | None:
    with transaction.atomic():
        run = (
            CommandRun.objects.for_workspace(workspace_id)
            .select_for_update(no_key=True, of=("self",))
            .select_related("repository__installation", "repository__workspace")
            .filter(pk=command_run_id)
            .first()
        )
        if run is None or run.is_terminal:
            return None
        if run.status == CommandStatus.QUEUED:
            run.status = CommandStatus.RUNNING
            run.started_at = timezone.now()
            run.save(update_fields=["status", "started_at"])
        return run


def finish(run: CommandRun, *, status: str, reason: str = "", response_comment_id: str = "", review_run_id: int | None = None) -> None:
    with transaction.atomic():
        CommandRun.objects.filter(pk=run.pk).update(
            status=status,
            reason=reason[:2000],
            response_comment_id=response_comment_id or run.response_comment_id,
            review_run_id=review_run_id if review_run_id is not None else run.review_run_id,
            finished_at=timezone.now(),
        )
        transaction.on_commit(
            lambda: signals.command_executed.send(
                sender=CommandRun,
                workspace_id=run.workspace_id,
                repository_id=run.repository_id,
                command=run.command,
                status=status,
                command_run_id=run.pk,
            )
        )
    log.info("command.finished", command=run.command, status=status, reason=reason, command_run_id=run.pk)


def execute(*, command_run_id: int, workspace_id: int) -> str:
    run = _claim(command_run_id, workspace_id)
    if run is None:
        return "nothing to do"
    repository = run.repository
    provider = get_provider(repository.provider)
    ref = repository_ref(repository)
    marker = hidden_marker("command", run.comment_id)

    def reply(body: str) -> str:
        return provider.upsert_comment(ref, number=run.pr_number, marker=marker, body=body).external_id

    if run.author_association.upper() not in commands.ALLOWED_ASSOCIATIONS:
        comment_id = reply(commands.refusal_text(run.author_login))
        finish(run, status=CommandStatus.DENIED, reason=f"author_association {run.author_association}", response_comment_id=comment_id)
        return "denied: permission"

    from billing.services import reserve_command

    decision = reserve_command(workspace_id=run.workspace_id, command_run_id=run.pk)
    if not decision.allowed:
        comment_id = reply(f"**Sentinel**: {decision.message}")
        finish(run, status=CommandStatus.DENIED, reason=decision.reason or decision.message, response_comment_id=comment_id)
        return f"denied: {decision.reason}"

    review_run_id = None
    if run.command == "review":
        review_run_id, body = _review(run, repository, provider, ref)
    elif run.command == "summarize":
        body = _summary(run, repository)
    elif run.command == "pause":
        changed = services.pull_request_pause(repository=repository, pr_number=run.pr_number, login=run.author_login)
        body = (
            "**Sentinel**: automatic reviews are paused on this pull request. "
            f"`{commands_mention()} resume` starts them again."
            if changed
            else "**Sentinel**: automatic reviews were already paused on this pull request."
        )
    elif run.command == "resume":
        changed = services.pull_request_resume(repository=repository, pr_number=run.pr_number)
        body = (
            "**Sentinel**: automatic reviews are back on for this pull request."
            if changed
            else "**Sentinel**: automatic reviews were not paused on this pull request."
        )
    elif run.command == "unknown":
        body = commands.help_text(unknown_word=run.arguments)
    else:
        body = commands.help_text()
    comment_id = reply(body)
    finish(run, status=CommandStatus.COMPLETED, response_comment_id=comment_id, review_run_id=review_run_id)
    return f"completed: {run.command}"


def commands_mention() -> str:
    from django.conf import settings

    return settings.GITHUB_COMMAND_MENTION


def _review(run: CommandRun, repository: Repository, provider: Any, ref: RepositoryRef) -> tuple[int, str]:
    """A full review of the PR's current head: a fresh run even when that SHA was reviewed (the
    comment id is the trigger key), which the original's PR+SHA key could not do."""
    from reviews.services import request_review

    pr = provider.get_pull_request(ref, run.pr_number)
    review_run = request_review(
        repository=repository,
        pr_number=run.pr_number,
        base_sha=pr.base_sha,
        head_sha=pr.head_sha,
        trigger="command",
        trigger_key=run.external_reference,
        pull_request=pr,
    )
    if review_run.status == "skipped":
        return review_run.pk, f"**Sentinel**: review not started ({review_run.skip_reason or 'skipped'})."
    return review_run.pk, f"**Sentinel**: starting a full review of `{pr.head_sha[:12]}` (run {review_run.pk})."


SEVERITIES = ("critical", "high", "medium", "low", "info")


def _summary(run: CommandRun, repository: Repository) -> str:
    from reviews.models import Finding, ReviewRun

    latest = (
        ReviewRun.objects.filter(repository_id=repository.pk, pr_number=run.pr_number, status="completed")
        .order_by("-finished_at", "-pk")
        .first()
    )
    if latest is None:
        return f"**Sentinel**: no completed review of this pull request yet. `{commands_mention()} review` starts one."
    findings = list(Finding.objects.filter(run_id=latest.pk).order_by("path", "start_line"))
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    lines = [
        "### Sentinel review summary",
        f"Review of `{latest.head_sha[:12]}`: {len(findings)} finding(s)"
        + (" — " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) if findings else "."),
        "",
    ]
    for finding in findings[:20]:
        lines.append(f"- **{finding.severity}** `{finding.path}:{finding.start_line}` {finding.title}")
    if len(findings) > 20:
        lines.append(f"- … and {len(findings) - 20} more")
    return "\n".join(lines)
