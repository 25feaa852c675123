"""ExecuteReviewRun: what a worker does with one review run.

    claim (queued -> running, under the run's execution lock)
    -> plan limits (billing.services.reserve_review_run; deny -> skipped: quota)
    -> pull request (draft -> skipped for automatic triggers)
    -> policy (reviews.policy; read from the base commit for forks and untrusted authors)
    -> trigger rules (automatic triggers only; excluded -> skipped: policy)
    -> diff (incremental since the last completed run's head, full after a force-push)
    -> engine (reviews.engine.service.review)
    -> persist result + findings and complete (one transaction, conditional on still running)

Safe to re-run: the execution lock (a PostgreSQL session advisory lock, released by the server
when a killed worker's connection drops) lets one worker at a time execute a run; a retry after a
crash finds the run `running`, takes the lock and resumes from the start; the final transition is
conditional, so a run cancelled or superseded meanwhile is never completed. Usage is recorded by
billing's receiver of `run_completed`, not here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from django.db import DatabaseError, connection, transaction
from rq import get_current_job
from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from integrations.ai import errors as ai_errors
from integrations.models import Repository
from integrations.source_control.base import CheckStatus, PullRequestInfo, RepositoryRef, SourceControlError
from integrations.source_control.registry import get_provider
from queues import lifecycle
from queues.exceptions import RetryAfter
from reviews import policy as policy_mod
from reviews import signals, state
from reviews.models import (
    Finding,
    ReviewMode,
    ReviewResult,
    ReviewRun,
    RunStatus,
    SkipReason,
    Trigger,
)
from reviews.services import pull_request_from_snapshot, pull_request_snapshot
from workspaces.tenancy import get_for_workspace

log = structlog.get_logger("reviews.execution")

Progress = Callable[[int, str], None]

# Advisory-lock key spaces (one bigint per run): execution and posting never block each other.
_EXECUTE_LOCK_BASE = 7_100_000_000_000_000_000
_POST_LOCK_BASE = 7_200_000_000_000_000_000

TRANSIENT_AI_ERRORS = (ai_errors.Overloaded, ai_errors.ServerError, ai_errors.Timeout)
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
AUTOMATIC_TRIGGERS = frozenset({Trigger.WEBHOOK})


@contextmanager
def run_lock(kind: str, run_id: int) -> Iterator[bool]:
    """Hold a session advisory lock for this run while the block runs; yield whether we got it.

    PostgreSQL releases a session lock when the session ends, so a worker killed with SIGKILL never
    leaves a run locked. Other databases (SQLite in `make run`, one worker) get no lock.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = (_EXECUTE_LOCK_BASE if kind == "execute" else _POST_LOCK_BASE) + int(run_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:  # connection gone: the server dropped the lock with it
                log.warning("reviews.lock_release_failed", run_id=run_id, kind=kind)


def repository_ref(repository: Repository) -> RepositoryRef:
    installation = repository.installation
    return RepositoryRef(
        provider=repository.provider,
        full_name=repository.full_name,
        installation_id=installation.github_installation_id if installation is not None else None,
        local_path=repository.local_path or None,
    )


_SECRET_PATTERNS = [
    re.compile(r"(sk-[A-Za-z0-9_-]{8,})"),
    re.compile(r"(sk-ant-[A-Za-z0-9_-]{8,})"),
    re.compile(r"(gh[pousr]_[A-Za-z0-9]{16,})"),
    re.compile(r"(github_pat_[A-Za-z0-9_]{16,})"),
    re.compile(r"(?i)(bearer\s+[A-Za-z0-9._~+/=-]{8,})"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password)\s*[=:]\s*\S+)"),
]


def scrub(message: str) -> str:
    """Remove anything that looks like a credential from a message shown to people."""
    for pattern in _SECRET_PATTERNS:
        message = pattern.sub("[redacted]", message)
    return message[:2000]


class _Outcome(Exception):
    """Ends execution early with a terminal state already written."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def _skip(run: ReviewRun, reason: str, message: str, **fields: Any) -> None:
    state.transition(
        run.pk, to=RunStatus.SKIPPED, from_=[RunStatus.RUNNING], skip_reason=reason, skip_message=message, **fields
    )
    log.info("review_run.skipped", run_id=run.pk, skip_reason=reason)
    raise _Outcome(f"skipped: {reason}")


def fail_run(
    run_id: int, *, code: str, message: str, from_: tuple[str, ...] = (RunStatus.RUNNING,), **fields: Any
) -> ReviewRun | None:
    failed = state.transition(
        run_id, to=RunStatus.FAILED, from_=list(from_), error_code=code[:64], error_message=scrub(message), **fields
    )
    if failed is not None:
        log.warning("review_run.failed", run_id=run_id, error_code=code)
    return failed


def _last_attempt() -> bool:
    return not lifecycle.will_retry(get_current_job())


def execute_run(*, run_id: int, workspace_id: int, progress: Progress) -> dict[str, Any]:
    with run_lock("execute", run_id) as acquired:
        if not acquired:
            # Another worker is executing this run right now: it owns the outcome.
            log.info("review_run.busy_elsewhere", run_id=run_id)
            return {"run_id": run_id, "outcome": "running elsewhere"}
        try:
            return _execute_locked(run_id=run_id, workspace_id=workspace_id, progress=progress)
        except _Outcome as done:
            return {"run_id": run_id, "outcome": done.outcome}


def _execute_locked(*, run_id: int, workspace_id: int, progress: Progress) -> dict[str, Any]:
    run = get_for_workspace(
        ReviewRun.objects.select_related("repository", "repository__installation", "workspace"),
        pk=run_id,
        workspace_id=workspace_id,
    )
    if run.is_terminal:
        return {"run_id": run_id, "outcome": f"already {run.status}"}
    if run.status == RunStatus.QUEUED:
        claimed = state.transition(run.pk, to=RunStatus.RUNNING, from_=[RunStatus.QUEUED])
        if claimed is None:
            return {"run_id": run_id, "outcome": "claimed elsewhere"}
        log.info("review_run.claimed", run_id=run_id)
    else:
        claimed = state.resume(run.pk)
        if claimed is None:
            return {"run_id": run_id, "outcome": "no longer running"}
        log.info("review_run.resumed", run_id=run_id, attempts=claimed.attempts)
    run = get_for_workspace(
        ReviewRun.objects.select_related("repository", "repository__installation", "workspace"),
        pk=run_id,
        workspace_id=workspace_id,
    )
    progress(5, "claimed")

    # 1. Plan limits. Idempotent per run key: a retry does not reserve twice.
    from billing.services import reserve_review_run

    decision = reserve_review_run(
        workspace_id=run.workspace_id, repository_id=run.repository_id, run_key=run.billing_run_key
    )
    if not decision.allowed:
        _skip(run, SkipReason.QUOTA, decision.message or "The plan's review limit is reached.",
              error_code=(decision.reason or "quota")[:64])
    progress(10, "plan checked")

    provider = get_provider(run.repository.provider)
    ref = repository_ref(run.repository)
    _mark_in_progress(run, provider, ref)
    try:
        return _review(run, provider, ref, progress)
    except SourceControlError as exc:
        if exc.retry_after:
            raise RetryAfter(exc.retry_after, f"source control: {exc}") from exc
        if exc.transient and not _last_attempt():
            raise
        fail_run(run.pk, code="source_control_error", message=f"Reading the pull request failed: {exc}")
        return {"run_id": run.pk, "outcome": "failed: source_control_error"}


def _mark_in_progress(run: ReviewRun, provider: Any, ref: RepositoryRef) -> None:
    """Show the review as in progress on the head commit. Best effort: PostAnnotations sets the outcome."""
    from reviews.annotations import STATUS_NAME

    try:
        provider.set_status(
            ref,
            head_sha=run.head_sha,
            name=STATUS_NAME,
            status=CheckStatus(state="in_progress", title="Sentinel is reviewing these changes"),
        )
    except SourceControlError as exc:
        log.warning("review_run.status_in_progress_failed", run_id=run.pk, error=str(exc)[:300])


def _pull_request(run: ReviewRun, provider: Any, ref: RepositoryRef) -> PullRequestInfo:
    pr = pull_request_from_snapshot(run.pull_request)
    if pr is None:
        pr = provider.get_pull_request(ref, run.pr_number)
        ReviewRun.objects.filter(pk=run.pk).update(pull_request=pull_request_snapshot(pr))
    return pr


def resolve_run_policy(run: ReviewRun, pr: PullRequestInfo, provider: Any, ref: RepositoryRef) -> tuple[
    policy_mod.ResolvedPolicy, str
]:
    """The run's policy and where its config file was read (`head` or `base`).

    A fork or an author without write access reads `.sentinel/config.yaml` from the base commit,
    so a pull request cannot rewrite the rules that review it.
    """
    trusted = not pr.is_fork and pr.author_association.upper() in TRUSTED_ASSOCIATIONS
    read_from = "head" if trusted else "base"
    config_sha = run.head_sha if trusted else (pr.base_sha or run.base_sha)
    file_layer = policy_mod.Layer(source="file", data=None, ref=config_sha)
    text = provider.get_file(ref, path=policy_mod.CONFIG_PATH, ref=config_sha)
    if text is not None:
        try:
            file_layer.data = policy_mod.parse_config_file(text)
        except policy_mod.PolicyError as exc:
            file_layer.parse_error = exc.messages
    resolved = policy_mod.resolve(
        [
            policy_mod.Layer(source="workspace", data=run.workspace.default_review_settings or None),
            policy_mod.Layer(source="repository", data=run.repository.review_settings or None),
            file_layer,
        ]
    )
    for source in resolved.sources:
        if source["source"] == "file":
            source["read_from"] = read_from
    return resolved, read_from


def _choose_diff_base(run: ReviewRun, provider: Any, ref: RepositoryRef) -> tuple[str, str, str]:
    """(mode, diff base SHA, reason): incremental since the last completed run's head when possible."""
    if run.force_full:
        return ReviewMode.FULL, run.base_sha, "full review requested"
    previous = (
        ReviewRun.objects.filter(
            repository_id=run.repository_id, pr_number=run.pr_number, status=RunStatus.COMPLETED
        )
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-pk")
        .first()
    )
    if previous is None:
        return ReviewMode.FULL, run.base_sha, "first review of this pull request"
    if previous.head_sha == run.head_sha:
        return ReviewMode.FULL, run.base_sha, "same head as the last review"
    if not provider.is_ancestor(ref, ancestor_sha=previous.head_sha, descendant_sha=run.head_sha):
        return ReviewMode.FULL, run.base_sha, f"force-push: {previous.head_sha[:7]} is no longer in the branch"
    if (
        run.base_sha != previous.base_sha
        and provider.is_ancestor(ref, ancestor_sha=run.base_sha, descendant_sha=run.head_sha)
        and not provider.is_ancestor(ref, ancestor_sha=run.base_sha, descendant_sha=previous.head_sha)
    ):
        # The base branch was merged into the pull request since the last review: the diff from the
        # last reviewed head would be mostly the base's own changes, reviewed as the author's.
        return ReviewMode.FULL, run.base_sha, f"the base branch was merged in since {previous.head_sha[:7]}"
    return ReviewMode.INCREMENTAL, previous.head_sha, f"changes since {previous.head_sha[:7]} (run {previous.pk})"


def known_fingerprints(run: ReviewRun) -> frozenset[str]:
    """Fingerprints already reported on this pull request by earlier completed runs."""
    return frozenset(
        Finding.objects.filter(
            run__repository_id=run.repository_id,
            run__pr_number=run.pr_number,
            run__status=RunStatus.COMPLETED,
        )
        .exclude(run_id=run.pk)
        .values_list("fingerprint", flat=True)
    )


def walkthrough(diff: str) -> list[dict[str, Any]]:
    """What changed, grouped by top-level directory (the summary comment's walkthrough)."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return []
    groups: dict[str, dict[str, Any]] = {}
    for patched in patch:
        path = patched.path
        group = path.split("/", 1)[0] if "/" in path else "(root)"
        entry = groups.setdefault(group, {"group": group, "files": [], "additions": 0, "deletions": 0})
        status = "added" if patched.is_added_file else "removed" if patched.is_removed_file else "modified"
        entry["files"].append({"path": path, "status": status, "additions": patched.added, "deletions": patched.removed})
        entry["additions"] += patched.added
        entry["deletions"] += patched.removed
    return [groups[key] for key in sorted(groups)]


def _review(run: ReviewRun, provider: Any, ref: RepositoryRef, progress: Progress) -> dict[str, Any]:
    pr = _pull_request(run, provider, ref)
    automatic = run.trigger in AUTOMATIC_TRIGGERS
    if pr.draft and automatic:
        _skip(run, SkipReason.DRAFT, "The pull request is a draft; mark it ready for review, or ask for a review.")

    resolved, read_from = resolve_run_policy(run, pr, provider, ref)
    ReviewRun.objects.filter(pk=run.pk).update(
        policy_snapshot={**resolved.snapshot(), "config_read_from": read_from},
        policy_version=resolved.version,
        config_errors=resolved.errors,
    )
    if resolved.errors:
        log.warning("review_run.config_problems", run_id=run.pk, problems=resolved.errors)
    if automatic:
        reason = policy_mod.trigger_skip_reason(
            resolved.policy, base_ref=pr.base_ref, head_ref=pr.head_ref, labels=pr.labels, author=pr.author_login
        )
        if reason:
            _skip(run, SkipReason.POLICY, f"Not reviewed: {reason}.")
    progress(25, "policy resolved")

    mode, diff_base, mode_reason = _choose_diff_base(run, provider, ref)
    diff = provider.get_diff(ref, base_sha=diff_base, head_sha=run.head_sha)
    known = frozenset() if run.force_full else known_fingerprints(run)
    coverage_base = {"mode": mode, "diff_base": diff_base, "mode_reason": mode_reason}
    if not diff.strip():
        _skip(
            run,
            SkipReason.NO_REVIEWABLE_FILES,
            "Nothing to review: the diff is empty." if mode == ReviewMode.FULL else "No new changes since the last review.",
            review_mode=mode,
            diff_base_sha=diff_base,
            coverage={**coverage_base, "reviewed": [], "clipped": [], "skipped": []},
        )
    progress(40, "diff fetched")

    config_sha = run.head_sha if read_from == "head" else (pr.base_sha or run.base_sha)
    engine_policy = with_guidelines(resolved.policy, provider, ref, config_sha)
    result = _call_engine(run, pr, resolved, diff, known, engine_policy)
    progress(85, "review received")

    coverage = {**coverage_base, **result.coverage.as_dict()}
    if not result.coverage.reviewed and not result.findings and not result.usage.calls:
        _skip(
            run,
            SkipReason.NO_REVIEWABLE_FILES,
            "No reviewable files: every changed file was excluded by the policy or cannot be reviewed.",
            review_mode=mode,
            diff_base_sha=diff_base,
            coverage=coverage,
        )
    return _persist(run, result, mode=mode, diff_base=diff_base, coverage=coverage, known=known, diff=diff)


GUIDELINE_FILES = 5
GUIDELINE_BYTES = 51_200


def with_guidelines(policy: dict[str, Any], provider: Any, ref: RepositoryRef, sha: str) -> dict[str, Any]:
    """The policy for the engine: `guidelines[].content` read from the commit the config came from.

    At most 5 files of about 50 KB each (the original's limits); a missing file is skipped. The
    snapshot keeps only the paths, so the policy version does not change with the documents.
    """
    guidelines = policy.get("guidelines") or []
    if not guidelines:
        return policy
    loaded = []
    for guideline in guidelines[:GUIDELINE_FILES]:
        text = provider.get_file(ref, path=guideline["path"], ref=sha)
        if text is None:
            log.info("review_run.guideline_missing", path=guideline["path"])
            continue
        loaded.append({**guideline, "content": text[:GUIDELINE_BYTES]})
    return {**policy, "guidelines": loaded}


def _call_engine(
    run: ReviewRun,
    pr: PullRequestInfo,
    resolved: policy_mod.ResolvedPolicy,
    diff: str,
    known: frozenset[str],
    engine_policy: dict[str, Any] | None = None,
) -> Any:
    from billing.selectors import plan_for
    from reviews.engine import service as engine
    from reviews.engine.types import EngineRequest

    request = EngineRequest(
        workspace_id=run.workspace_id,
        diff=diff,
        policy=engine_policy if engine_policy is not None else resolved.policy,
        repository=run.repository.full_name,
        title=pr.title,
        known_fingerprints=known,
        run_id=run.pk,
        max_diff_lines=plan_for(run.workspace_id).max_diff_lines,
    )
    try:
        return engine.review(request)
    except ai_errors.RateLimited as exc:
        if _last_attempt():
            fail_run(run.pk, code=exc.code, message=f"The AI provider kept rate-limiting the review: {exc.message}",
                     provider=exc.provider[:32], model=exc.model[:120])
            raise _Outcome("failed: rate_limited") from exc
        raise RetryAfter(exc.retry_after, "AI provider rate limit") from exc
    except ai_errors.NoEligibleProvider as exc:
        _skip(run, SkipReason.NO_PROVIDER, exc.message, error_code=exc.code)
    except ai_errors.ProviderError as exc:
        # Overloaded, server errors and timeouts are worth a retry of the job (the engine already
        # tried every eligible provider); the rest (bad request, invalid output, auth) are not.
        if isinstance(exc, TRANSIENT_AI_ERRORS) and not _last_attempt():
            raise
        fail_run(run.pk, code=exc.code, message=exc.message, provider=exc.provider[:32], model=exc.model[:120])
        raise _Outcome(f"failed: {exc.code}") from exc


def _persist(
    run: ReviewRun,
    result: Any,
    *,
    mode: str,
    diff_base: str,
    coverage: dict[str, Any],
    known: frozenset[str],
    diff: str,
) -> dict[str, Any]:
    policy = ReviewRun.objects.values_list("policy_snapshot", flat=True).get(pk=run.pk).get("policy") or {}
    cap = int(policy.get("review", {}).get("max_findings") or 0)
    seen: set[str] = set()
    rows: list[Finding] = []
    repeated = 0
    for item in result.findings:
        if item.fingerprint in known:
            repeated += 1
            continue
        if item.fingerprint in seen:
            continue
        seen.add(item.fingerprint)
        rows.append(
            Finding(
                run_id=run.pk,
                workspace_id=run.workspace_id,
                path=item.path[:1024],
                start_line=item.start_line,
                end_line=item.end_line,
                severity=item.severity,
                category=item.category,
                title=item.title[:300],
                body=item.body,
                suggestion=item.suggestion or "",
                confidence=float(item.confidence),
                fingerprint=item.fingerprint[:128],
            )
        )
    if cap:
        rows = rows[:cap]
    counts = Counter(row.severity for row in rows)
    usage = result.usage
    with transaction.atomic():
        done = state.transition(
            run.pk,
            to=RunStatus.COMPLETED,
            from_=[RunStatus.RUNNING],
            provider=result.provider[:32],
            model=result.model[:120],
            byok=bool(result.byok),
            input_tokens=int(usage.input_tokens),
            output_tokens=int(usage.output_tokens),
            cost_microusd=int(usage.cost_microusd),
            coverage=coverage,
            review_mode=mode,
            diff_base_sha=diff_base,
            progress_step="completed",
        )
        if done is None:
            # Cancelled or superseded while the engine ran: keep nothing.
            log.info("review_run.not_completed", run_id=run.pk, reason="no longer running")
            return {"run_id": run.pk, "outcome": "no longer running"}
        ReviewResult.objects.create(
            run_id=run.pk,
            workspace_id=run.workspace_id,
            summary=result.summary,
            risk_level=result.risk_level,
            findings_count=len(rows),
            counts_by_severity=dict(counts),
            walkthrough=walkthrough(diff),
            repeated_findings=repeated,
            extra=dict(result.extra or {}),
        )
        findings = Finding.objects.bulk_create(rows)
        state.send_after_commit(signals.finding_reported, run=done, findings=findings)
    log.info(
        "review_run.completed",
        run_id=run.pk,
        findings=len(findings),
        repeated=repeated,
        mode=mode,
        provider=result.provider,
        model=result.model,
    )
    return {"run_id": run.pk, "outcome": "completed", "findings": len(findings), "mode": mode}
