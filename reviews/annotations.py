"""PostAnnotations: put a finished run's outcome on the pull request, exactly once.

For every finished run (except a superseded one, which only gets its commit status):
- **review** (`annotations.style: review`, completed runs): one PR review per run with the inline
  comments; the body carries the hidden marker `<!-- sentinel:review-run:<id> -->`;
- **findings comment** (`style: comment`): one comment per run listing the findings;
- **summary comment**: one comment per pull request, created on the first run and updated in
  place by later ones (marker `<!-- sentinel:summary:pr-<n> -->`) — overview, risk, coverage,
  counts by severity, walkthrough; for a failed run the actionable failure, for a skipped run
  the reason;
- **status** named "Sentinel review" on the head commit: honest and fail-closed (a failed or
  skipped review is never `success`; a partial review is at best `neutral`).

Exactly once across retries and killed workers: an `Annotation` row in state `pending` records
the intent *before* the call; the provider looks for the marker before posting; the row becomes
`posted` after. A retry of a pending row therefore finds the earlier post instead of repeating
it. One worker at a time posts for a run (advisory lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone
from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from integrations.source_control.base import (
    CheckStatus,
    InlineComment,
    PostedItem,
    RepositoryRef,
    SourceControlError,
    hidden_marker,
)
from integrations.source_control.registry import get_provider
from queues.exceptions import PermanentFailure, RetryAfter
from reviews import policy as policy_mod
from reviews import signals, state
from reviews.execution import repository_ref, run_lock
from reviews.models import (
    Annotation,
    AnnotationKind,
    AnnotationState,
    Finding,
    ReviewResult,
    ReviewRun,
    RunStatus,
    SkipReason,
)
from workspaces.tenancy import get_for_workspace

log = structlog.get_logger("reviews.annotations")

STATUS_NAME = "Sentinel review"
SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]
BADGES = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪", "info": "🔵"}


def summary_marker(run: ReviewRun) -> str:
    return hidden_marker("summary", f"pr-{run.pr_number}")


def review_marker(run: ReviewRun) -> str:
    return hidden_marker("review-run", run.pk)


def finding_marker(run: ReviewRun, finding: Finding) -> str:
    """The marker of one finding's own post (`annotations.grouped: false`)."""
    return hidden_marker("review-finding", f"{run.pk}-{finding.pk}")


def findings_marker(run: ReviewRun) -> str:
    return hidden_marker("findings-run", run.pk)


def commentable_lines(diff: str) -> dict[str, set[int]]:
    """New-side line numbers inside the diff's hunks, per file: where inline comments may go."""
    lines: dict[str, set[int]] = {}
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return lines
    for patched in patch:
        if patched.is_removed_file:
            continue
        target = lines.setdefault(patched.path, set())
        for hunk in patched:
            for line in hunk:
                if line.target_line_no is not None:
                    target.add(line.target_line_no)
    return lines


def _rank(severity: str) -> int:
    return policy_mod.SEVERITY_RANK.get(severity, 0)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-_rank(f.severity), f.path, f.start_line or 0, f.title))


def _where(finding: Finding) -> str:
    if not finding.start_line:
        return f"`{finding.path}`"
    if finding.end_line and finding.end_line > finding.start_line:
        return f"`{finding.path}:{finding.start_line}-{finding.end_line}`"
    return f"`{finding.path}:{finding.start_line}`"


def inline_comment(finding: Finding, *, include_suggestions: bool) -> InlineComment:
    """One inline comment; a single-line finding sends no start_line (GitHub: 422 on start == line)."""
    body = [f"{BADGES.get(finding.severity, '')} **{finding.severity.upper()}** · {finding.category}", "",
            f"#### {finding.title}", "", finding.body.strip()]
    if include_suggestions and finding.suggestion:
        body += ["", "```suggestion", finding.suggestion.rstrip("\n"), "```"]
    multi = finding.end_line is not None and finding.start_line is not None and finding.end_line > finding.start_line
    return InlineComment(
        path=finding.path,
        line=finding.end_line if multi else finding.start_line,  # type: ignore[arg-type]  # checked by caller
        start_line=finding.start_line if multi else None,
        body="\n".join(body),
    )


# --- bodies ---------------------------------------------------------------------------------------


def _coverage_lines(run: ReviewRun) -> list[str]:
    coverage = run.coverage or {}
    reviewed = coverage.get("reviewed") or []
    clipped = coverage.get("clipped") or []
    skipped = coverage.get("skipped") or []
    lines = [f"- Reviewed **{len(reviewed)}** file(s)" + (f", **{len(clipped)}** only in part (over the size budget)" if clipped else "")]
    if coverage.get("mode"):
        lines.append(f"- Review: **{coverage['mode']}** — {coverage.get('mode_reason', '')}")
    for path in clipped[:20]:
        lines.append(f"  - clipped: `{path}`")
    if skipped:
        lines.append(f"- Not reviewed: **{len(skipped)}** file(s)")
        for item in skipped[:20]:
            lines.append(f"  - `{item.get('path')}` ({item.get('reason')})")
        if len(skipped) > 20:
            lines.append(f"  - … and {len(skipped) - 20} more")
    return lines


def _config_lines(run: ReviewRun) -> list[str]:
    if not run.config_errors:
        return []
    lines = ["", "### Configuration problems", "",
             "Sentinel used the next configuration source where a file or setting was invalid:", ""]
    lines += [f"- {problem}" for problem in run.config_errors[:30]]
    return lines


def summary_body(run: ReviewRun, *, outside: list[Finding]) -> str:
    result: ReviewResult | None = getattr(run, "result", None)
    counts = (result.counts_by_severity if result else {}) or {}
    total = sum(counts.values())
    parts = [summary_marker(run), "## Sentinel review summary", ""]
    risk = (result.risk_level if result else "") or "low"
    parts.append(f"**Risk level:** {risk} · **Commit:** `{run.head_sha[:12]}` · **Findings:** {total}")
    parts += ["", (result.summary.strip() if result and result.summary else "Review completed."), ""]
    parts.append("| " + " | ".join(s for s in SEVERITY_ORDER) + " |")
    parts.append("|" + "---|" * len(SEVERITY_ORDER))
    parts.append("| " + " | ".join(str(counts.get(s, 0)) for s in SEVERITY_ORDER) + " |")
    if total == 0:
        parts += ["", "No issues found in the reviewed changes."]
    if result and result.repeated_findings:
        parts += ["", f"{result.repeated_findings} finding(s) already reported on this pull request were not repeated."]
    parts += ["", "### Coverage", "", *_coverage_lines(run)]
    if result and result.walkthrough:
        parts += ["", "### Walkthrough", ""]
        for group in result.walkthrough[:30]:
            files = ", ".join(f"`{f['path']}`" for f in group["files"][:10])
            more = f" and {len(group['files']) - 10} more" if len(group["files"]) > 10 else ""
            parts.append(f"- **{group['group']}** (+{group['additions']}/−{group['deletions']}): {files}{more}")
    if outside:
        parts += ["", "### Findings not on changed lines", ""]
        for finding in outside[:50]:
            parts.append(f"- {BADGES.get(finding.severity, '')} **{finding.severity}** {_where(finding)} — {finding.title}")
    parts += _fallback_lines(result)
    parts += _config_lines(run)
    parts += ["", f"<sub>Sentinel run {run.pk} · {run.provider or '-'} / {run.model or '-'}</sub>"]
    return "\n".join(parts)


FALLBACK_REASONS = {
    "auth_failed": "the provider rejected the workspace's key",
    "quota_exhausted": "the provider account has no quota left",
    "overloaded": "the provider was overloaded",
    "server_error": "the provider answered with a server error",
    "timeout": "the provider did not answer in time",
    "rate_limited": "the provider rate-limited the call",
    "bad_request": "the provider refused the request",
    "invalid_output": "the provider's answer was not valid findings",
}


def _fallback_lines(result: ReviewResult | None) -> list[str]:
    """Providers that failed before the one that reviewed: a rejected key must not go unnoticed
    (it is marked invalid and the workspace's reviews quietly move to the next provider)."""
    attempts = ((result.extra if result else None) or {}).get("failed_attempts") or []
    if not attempts:
        return []
    lines = ["", "### Provider fallback", ""]
    for attempt in attempts[:5]:
        who = f"`{attempt.get('provider') or '?'}`" + (f" / `{attempt['model']}`" if attempt.get("model") else "")
        code = str(attempt.get("code") or "error")
        # Our own words only: a provider's message can echo part of the key, and PRs can be public.
        lines.append(f"- {who} failed ({code}): {FALLBACK_REASONS.get(code, 'the call failed')}.")
    if any(a.get("code") == "auth_failed" for a in attempts):
        lines += ["", "The provider rejected the workspace's key, which is now marked invalid: a workspace admin "
                      "can add a new key (API: `ai/keys/`)."]
    return lines


def _public_failure_message(run: ReviewRun) -> str:
    """The failure as told on the pull request: an AI provider's own words stay in Sentinel (they
    can echo part of the key, and the PR may be public); our own messages are shown as stored."""
    if run.error_code in FALLBACK_REASONS:
        return f"{FALLBACK_REASONS[run.error_code].capitalize()} (the provider's message is on run {run.pk} in Sentinel)."
    return run.error_message or "no detail"


def failure_body(run: ReviewRun) -> str:
    parts = [
        summary_marker(run),
        "## Sentinel review failed",
        "",
        f"The review of commit `{run.head_sha[:12]}` did not complete, so these changes are **not reviewed**.",
        "",
        f"- Provider: {run.provider or 'not reached'}",
        f"- Model: {run.model or 'not reached'}",
        f"- Status: failed (`{run.error_code or 'error'}`)",
        f"- Message: {_public_failure_message(run)}",
        "",
        "What to do: check the AI provider key and plan in Sentinel, then re-run the review "
        f"(`@sentinel review`, or re-run run {run.pk} from the dashboard or the API).",
    ]
    parts += _config_lines(run)
    return "\n".join(parts)


def skipped_body(run: ReviewRun) -> str:
    label = SkipReason(run.skip_reason).label if run.skip_reason in SkipReason.values else run.skip_reason
    parts = [
        summary_marker(run),
        f"## Sentinel review skipped: {label.lower()}",
        "",
        f"Commit `{run.head_sha[:12]}` was **not reviewed**. {run.skip_message}".rstrip(),
    ]
    if run.skip_reason == SkipReason.QUOTA:
        parts += ["", "Upgrade the plan or wait for the next billing period; then ask for a review with `@sentinel review`."]
    parts += _config_lines(run)
    return "\n".join(parts)


def check_status(run: ReviewRun, *, findings_over_threshold: int, style: str, findings: list[Finding]) -> CheckStatus:
    coverage = run.coverage or {}
    if run.status == RunStatus.COMPLETED:
        reviewed = len(coverage.get("reviewed") or [])
        clipped = len(coverage.get("clipped") or [])
        skipped = len(coverage.get("skipped") or [])
        title = f"Reviewed {reviewed} file(s)"
        if clipped:
            title += f", {clipped} in part"
        if skipped:
            title += f", {skipped} not reviewed"
        total = len(findings)
        title += f": {total} finding(s)"
        partial = bool(clipped or skipped)
        conclusion = "neutral" if (findings_over_threshold or partial) else "success"
        summary = "\n".join(_coverage_lines(run))
        if style == "check" and findings:
            summary += "\n\n" + "\n".join(
                f"- {f.severity} {_where(f)} — {f.title}" for f in _sorted(findings)[:50]
            )
        return CheckStatus(state="completed", conclusion=conclusion, title=title, summary=summary)
    if run.status == RunStatus.FAILED:
        return CheckStatus(
            state="completed", conclusion="failure", title="Review failed: changes not reviewed",
            summary=f"{run.error_code}: {run.error_message}",
        )
    if run.status == RunStatus.CANCELLED:
        return CheckStatus(state="completed", conclusion="cancelled", title="Review cancelled: changes not reviewed")
    return CheckStatus(
        state="completed", conclusion="skipped", title=f"Review skipped: {run.skip_reason or 'skipped'}",
        summary=run.skip_message,
    )


# --- posting ------------------------------------------------------------------------------------


def _record_intent(run: ReviewRun, kind: str, marker: str, finding: Finding | None = None) -> Annotation:
    try:
        annotation, _ = Annotation.objects.get_or_create(
            run=run, kind=kind, finding=finding,
            defaults={"workspace_id": run.workspace_id, "marker": marker, "state": AnnotationState.PENDING},
        )
    except IntegrityError:
        annotation = Annotation.objects.get(run=run, kind=kind, finding=finding)
    return annotation


def _mark(annotation: Annotation, run: ReviewRun, *, state_: str, item: PostedItem | None = None, detail: str = "") -> None:
    with transaction.atomic():
        Annotation.objects.filter(pk=annotation.pk).update(
            state=state_,
            external_id=(item.external_id if item else annotation.external_id)[:200],
            url=(item.url if item else annotation.url)[:500],
            detail=detail[:2000],
            posted_at=timezone.now() if state_ == AnnotationState.POSTED else None,
            updated_at=timezone.now(),
        )
        if state_ == AnnotationState.POSTED:
            annotation.refresh_from_db()
            state.send_after_commit(signals.annotation_posted, run=run, annotation=annotation)


def _post_once(
    run: ReviewRun, kind: str, marker: str, call: Callable[[], PostedItem]
) -> tuple[Annotation, PostedItem | None]:
    """Record intent, call, record the result. A posted row is never posted again."""
    annotation = _record_intent(run, kind, marker)
    if annotation.state == AnnotationState.POSTED:
        return annotation, None
    item = call()
    _mark(annotation, run, state_=AnnotationState.POSTED, item=item)
    log.info("annotation.posted", run_id=run.pk, kind=kind, external_id=item.external_id, already_existed=item.already_existed)
    return annotation, item


def _finding_line(run: ReviewRun, finding: Finding) -> str:
    return f"- {BADGES.get(finding.severity, '')} **{finding.severity}** {_where(finding)} — **{finding.title}**\n\n  {finding.body.strip()}"


def _post_one_review_per_finding(
    run: ReviewRun, provider: Any, ref: RepositoryRef, inline: list[Finding], comments: dict[int, InlineComment]
) -> list[Finding]:
    """`annotations.grouped: false`: one PR review per inline finding, each exactly once by its own
    marker and intent row. Returns the findings the host refused (they go to the summary)."""
    refused = []
    for finding in inline:
        marker = finding_marker(run, finding)
        row = _record_intent(run, AnnotationKind.INLINE, marker, finding)
        if row.state != AnnotationState.PENDING:
            continue
        comment = comments[finding.pk]
        item = provider.post_review(
            ref, number=run.pr_number, head_sha=run.head_sha, marker=marker,
            body=f"{marker}\n**Sentinel**: {BADGES.get(finding.severity, '')} {finding.severity} finding.",
            comments=[comment],
        )
        if comment in item.rejected_comments:
            _mark(row, run, state_=AnnotationState.REJECTED, item=item, detail="the host refused the line")
            refused.append(finding)
        else:
            _mark(row, run, state_=AnnotationState.POSTED, item=item)
    return refused


def _newer_summary_posted(run: ReviewRun) -> bool:
    """Whether a later run on this PR already owns the summary comment (never overwrite newer news)."""
    return Annotation.objects.filter(
        run__repository_id=run.repository_id,
        run__pr_number=run.pr_number,
        run__created_at__gt=run.created_at,
        kind=AnnotationKind.SUMMARY,
        state=AnnotationState.POSTED,
    ).exists()


def _posted_inline_fingerprints(run: ReviewRun) -> set[str]:
    return set(
        Annotation.objects.filter(
            run__repository_id=run.repository_id,
            run__pr_number=run.pr_number,
            kind=AnnotationKind.INLINE,
            state=AnnotationState.POSTED,
        )
        .exclude(run_id=run.pk)
        .values_list("finding__fingerprint", flat=True)
    )


def post_for_run(*, run_id: int, workspace_id: int) -> dict[str, Any]:
    with run_lock("post", run_id) as acquired:
        if not acquired:
            return {"run_id": run_id, "outcome": "posting elsewhere"}
        run = get_for_workspace(
            ReviewRun.objects.select_related("repository", "repository__installation"), pk=run_id, workspace_id=workspace_id
        )
        if not run.is_terminal:
            return {"run_id": run_id, "outcome": f"not finished ({run.status})"}
        provider = get_provider(run.repository.provider)
        ref = repository_ref(run.repository)
        try:
            return _post(run, provider, ref)
        except SourceControlError as exc:
            if exc.retry_after:
                raise RetryAfter(exc.retry_after, f"source control: {exc}") from exc
            if exc.transient:
                raise
            raise PermanentFailure(f"posting to the pull request failed: {exc}") from exc


def _post(run: ReviewRun, provider: Any, ref: RepositoryRef) -> dict[str, Any]:
    snapshot_policy = (run.policy_snapshot or {}).get("policy") or policy_mod.system_defaults()
    settings_ = snapshot_policy.get("annotations") or {}
    style = settings_.get("style", "review")
    threshold = _rank(settings_.get("post_threshold", "medium"))
    cap = int((snapshot_policy.get("review") or {}).get("max_findings") or 0)
    include_suggestions = bool(settings_.get("include_suggestions", True))
    grouped = bool(settings_.get("grouped", True))
    posted: list[str] = []

    findings: list[Finding] = []
    outside: list[Finding] = []
    over_threshold = 0
    if run.status == RunStatus.COMPLETED:
        findings = _sorted(list(run.findings.all()))
        over = [f for f in findings if _rank(f.severity) >= threshold]
        over_threshold = len(over)
        already = _posted_inline_fingerprints(run)
        lines = commentable_lines(provider.get_diff(ref, base_sha=run.base_sha, head_sha=run.head_sha))
        inline: list[Finding] = []
        for finding in over:
            if finding.fingerprint in already:
                continue
            if finding.start_line and finding.start_line in lines.get(finding.path, ()) and (
                not finding.end_line or finding.end_line <= finding.start_line or finding.end_line in lines[finding.path]
            ):
                inline.append(finding)
            else:
                outside.append(finding)
        if cap and len(inline) > cap:
            outside += inline[cap:]
            inline = inline[:cap]

        if style == "review":
            comments = {f.pk: inline_comment(f, include_suggestions=include_suggestions) for f in inline}
            where = "on changed lines below" if grouped else "on changed lines, each in its own review"
            body = "\n".join([
                review_marker(run),
                f"**Sentinel** reviewed `{run.head_sha[:12]}`: {len(findings)} finding(s), "
                f"{len(inline)} {where}. The summary comment has the overview.",
            ])
            review_row, item = _post_once(
                run, AnnotationKind.REVIEW, review_marker(run),
                lambda: provider.post_review(
                    ref, number=run.pr_number, head_sha=run.head_sha, marker=review_marker(run), body=body,
                    comments=list(comments.values()) if grouped else [],
                ),
            )
            posted.append("review")
            if not grouped:
                outside += _post_one_review_per_finding(run, provider, ref, inline, comments)
                inline = []
            rejected = set(item.rejected_comments) if item else set()
            for finding in inline:
                row = _record_intent(run, AnnotationKind.INLINE, review_marker(run), finding)
                if row.state != AnnotationState.PENDING:
                    continue
                if comments[finding.pk] in rejected:
                    _mark(row, run, state_=AnnotationState.REJECTED, item=item, detail="the host refused the line")
                    outside.append(finding)
                else:
                    _mark(row, run, state_=AnnotationState.POSTED,
                          item=item or PostedItem(external_id=review_row.external_id, url=review_row.url))
        elif style == "comment" and findings and not grouped:
            for finding in inline + outside:
                marker = finding_marker(run, finding)
                row = _record_intent(run, AnnotationKind.FINDINGS_COMMENT, marker, finding)
                if row.state != AnnotationState.PENDING:
                    continue
                text = "\n".join([marker, _finding_line(run, finding)])
                item = provider.upsert_comment(ref, number=run.pr_number, marker=marker, body=text)
                _mark(row, run, state_=AnnotationState.POSTED, item=item)
            posted.append("findings_comments")
            outside = []
        elif style == "comment" and findings:
            text = "\n".join(
                [findings_marker(run), f"### Sentinel findings for `{run.head_sha[:12]}`", ""]
                + [_finding_line(run, f) for f in (inline + outside)]
            )
            _post_once(
                run, AnnotationKind.FINDINGS_COMMENT, findings_marker(run),
                lambda: provider.upsert_comment(ref, number=run.pr_number, marker=findings_marker(run), body=text),
            )
            posted.append("findings_comment")
            outside = []

    superseded = run.status == RunStatus.SKIPPED and run.skip_reason == SkipReason.SUPERSEDED
    if run.status != RunStatus.CANCELLED and not superseded:
        if _newer_summary_posted(run):
            row = _record_intent(run, AnnotationKind.SUMMARY, summary_marker(run))
            if row.state == AnnotationState.PENDING:
                _mark(row, run, state_=AnnotationState.SUPPRESSED, detail="a newer run owns the summary comment")
        else:
            if run.status == RunStatus.COMPLETED:
                body = summary_body(run, outside=_sorted(outside))
            elif run.status == RunStatus.FAILED:
                body = failure_body(run)
            else:
                body = skipped_body(run)
            _post_once(
                run, AnnotationKind.SUMMARY, summary_marker(run),
                lambda: provider.upsert_comment(ref, number=run.pr_number, marker=summary_marker(run), body=body),
            )
            posted.append("summary")

    status = check_status(run, findings_over_threshold=over_threshold, style=style, findings=findings)
    row = _record_intent(run, AnnotationKind.STATUS, f"status:{run.head_sha}")
    if row.state != AnnotationState.POSTED:
        external_id = provider.set_status(ref, head_sha=run.head_sha, name=STATUS_NAME, status=status)
        _mark(row, run, state_=AnnotationState.POSTED, item=PostedItem(external_id=str(external_id)))
        posted.append("status")
    return {"run_id": run.pk, "posted": posted, "inline": len([f for f in findings if f not in outside])}
