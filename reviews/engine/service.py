"""`review(request) -> EngineResult`: the one entry point of the review engine.

1. Prepare the diff once: parse, filter paths, redact secrets (`reviews.engine.diff`).
2. Resolve the eligible providers in the workspace's preference order (`reviews.engine.routing`).
3. For each candidate: budget the diff for its model, call it once per chunk (the spend cap is
   checked before each call), merge the chunks' findings. `Overloaded`, `Timeout`, 5xx, auth and
   quota failures move on to the next candidate (and count towards its circuit breaker);
   `RateLimited` propagates (a `RetryAfter`: the job platform retries the job later); `BadRequest`
   and `InvalidOutput` propagate (deterministic).
4. Anchor, scrub, fingerprint, filter and cap the findings (`reviews.engine.findings`).

The engine writes nothing to the database except a key's status after an auth failure; the
review-run flow stores the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from integrations.ai.base import ProviderReply, ProviderRequest, ReviewFile
from integrations.ai.errors import NoEligibleProvider, ProviderError
from integrations.ai.offline import MODEL as OFFLINE_MODEL
from integrations.ai.redaction import redact_text
from reviews.engine import policy as policy_mod
from reviews.engine import prompts, routing
from reviews.engine.diff import ChunkPlan, PreparedDiff, limit_to_plan, plan_chunks, prepare_diff
from reviews.engine.findings import finalize_findings
from reviews.engine.types import EngineRequest, EngineResult, Usage

log = structlog.get_logger(__name__)


@dataclass
class _Totals:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_microusd: int = 0
    calls: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def add(self, reply: ProviderReply) -> None:
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.cost_microusd += reply.cost_microusd
        self.calls += reply.calls

    def usage(self) -> Usage:
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_microusd=self.cost_microusd,
            calls=self.calls,
        )


def review(request: EngineRequest) -> EngineResult:
    """Review `request.diff` under `request.policy` for `request.workspace_id`.

    Raises `integrations.ai.errors.NoEligibleProvider` when no provider may run, `RateLimited`
    (a `queues.exceptions.RetryAfter`) to be retried by the job platform, and other
    `ProviderError`s when every eligible provider failed.
    """
    started = time.monotonic()
    prepared = limit_to_plan(prepare_diff(request.diff, request.policy), request.max_diff_lines)
    if not prepared.files:
        # Nothing reviewable (every file excluded, binary, deleted...): no provider is needed.
        return _nothing_to_review_result(prepared)
    candidates = routing.eligible_candidates(workspace_id=request.workspace_id, policy=request.policy)
    if not candidates.candidates:
        raise NoEligibleProvider(reasons=candidates.excluded)

    totals = _Totals()
    last_error: ProviderError | None = None
    for candidate in candidates.candidates:
        try:
            result = _review_with(candidate, prepared, request, totals)
        except ProviderError as exc:
            routing.record_failure(candidate, exc, workspace_id=request.workspace_id)
            totals.attempts.append(
                {"provider": candidate.provider, "model": candidate.model, **exc.as_dict()}
            )
            log.warning(
                "ai.provider_failed",
                provider=candidate.provider,
                model=candidate.model,
                error_code=exc.code,
                status=exc.status,
                fallback=exc.fallback,
                run_id=request.run_id,
            )
            if isinstance(exc, routing.PlanDenied):
                candidates.excluded[candidate.provider] = exc.message
            last_error = exc
            if not exc.fallback or not candidates.fallback:
                break
            continue
        routing.record_success(candidate, workspace_id=request.workspace_id)
        log.info(
            "ai.review_completed",
            provider=result.provider,
            model=result.model,
            findings=len(result.findings),
            calls=result.usage.calls,
            # Not "*_tokens": the log masking treats any key containing "token" as a secret.
            usage_in=result.usage.input_tokens,
            usage_out=result.usage.output_tokens,
            duration_ms=int((time.monotonic() - started) * 1000),
            run_id=request.run_id,
        )
        return result
    assert last_error is not None  # noqa: S101 - the loop ran at least once and ends only on errors
    if isinstance(last_error, routing.PlanDenied):
        # The plan stopped every remaining candidate: nothing may run, as if none were eligible.
        raise NoEligibleProvider(reasons=candidates.excluded) from None
    raise last_error


def _review_files(prepared: PreparedDiff, paths: list[str]) -> tuple[ReviewFile, ...]:
    files = []
    for path in dict.fromkeys(paths):
        file_diff = prepared.file(path)
        if file_diff is None:
            continue
        files.append(
            ReviewFile(
                path=file_diff.path,
                status=file_diff.status,
                added_lines=tuple((n, file_diff.new_lines[n]) for n in file_diff.added),
                redactions=tuple(file_diff.redactions),
                added_count=file_diff.added_count,
            )
        )
    return tuple(files)


def _plan_for(candidate: routing.Candidate, prepared: PreparedDiff) -> ChunkPlan:
    if candidate.provider == routing.OFFLINE:
        return plan_chunks(prepared)  # local rules: no context limit, one pass over everything
    return plan_chunks(prepared, budget_tokens=candidate.budget_tokens, max_calls=candidate.max_calls)


def _review_with(
    candidate: routing.Candidate, prepared: PreparedDiff, request: EngineRequest, totals: _Totals
) -> EngineResult:
    plan = _plan_for(candidate, prepared)
    provider = candidate.build()
    instructions = prompts.instructions(request.policy)
    raw_findings = []
    summaries: list[str] = []
    risks: list[str] = []
    model = candidate.model
    own = _Totals()
    try:
        for index, chunk in enumerate(plan.chunks, start=1):
            if index > 1:  # the first call was checked by eligibility a moment ago
                routing.check_before_call(candidate, workspace_id=request.workspace_id)
            provider_request = ProviderRequest(
                instructions=instructions,
                prompt=prompts.user_message(
                    repository=request.repository,
                    title=request.title,
                    description=request.description,
                    diff_text=chunk.text(),
                    part=index,
                    parts=len(plan.chunks),
                ),
                model=candidate.model,
                max_output_tokens=candidate.max_output_tokens,
                files=_review_files(prepared, chunk.paths) if candidate.provider == routing.OFFLINE else (),
                timeout_seconds=candidate.timeout_seconds,
            )
            reply = provider.review(provider_request)
            own.add(reply)
            model = reply.model or model
            raw_findings.extend(reply.review.findings)
            if reply.review.summary:
                summaries.append(reply.review.summary.strip())
            risks.append(reply.review.risk_level)
    finally:
        # Spend is spend: a provider that failed half-way still used tokens.
        totals.input_tokens += own.input_tokens
        totals.output_tokens += own.output_tokens
        totals.cost_microusd += own.cost_microusd
        totals.calls += own.calls

    secrets = candidate.secrets()
    final = finalize_findings(
        raw_findings,
        prepared=prepared,
        reviewed_paths=[*plan.coverage.reviewed, *plan.coverage.clipped],
        policy=request.policy,
        known_fingerprints=request.known_fingerprints,
        secrets=secrets,
    )
    severities = [f.severity for f in final.findings]
    risk = policy_mod.risk_for(severities)
    for model_risk in risks:  # the model may see risk the findings do not show
        if policy_mod.RISK_LEVELS.index(model_risk) > policy_mod.RISK_LEVELS.index(risk):
            risk = model_risk
    if not plan.chunks:
        summary = _nothing_to_review(plan)
    elif candidate.provider == routing.OFFLINE:
        summary = summaries[0] if summaries else ""
    elif len(summaries) == 1:
        summary = summaries[0]
    else:
        summary = "\n\n".join(f"Part {i}: {s}" for i, s in enumerate(summaries, start=1))
    summary = redact_text(summary, extra_secrets=secrets)

    return EngineResult(
        provider=candidate.provider,
        model=model,
        summary=summary,
        risk_level=risk,
        findings=tuple(final.findings),
        coverage=plan.coverage,
        usage=totals.usage(),
        byok=candidate.byok,
        extra={
            "engine": "offline" if candidate.provider == routing.OFFLINE else "llm",
            "prompt_version": prompts.PROMPT_VERSION,
            "chunks": len(plan.chunks),
            "files_changed": len(prepared.files) + len(prepared.skipped),
            "lines_added": prepared.lines_added,
            "lines_removed": prepared.lines_removed,
            "redactions": prepared.redaction_count,
            "dropped": final.dropped,
            "failed_attempts": list(totals.attempts),
            "key_id": candidate.key_id,
        },
    )


def _nothing_to_review(plan: ChunkPlan) -> str:
    skipped = len(plan.coverage.skipped)
    if skipped:
        return f"Nothing to review: all {skipped} changed file{'s' if skipped != 1 else ''} were skipped (see coverage)."
    return "Nothing to review: the diff has no reviewable changes."


def _nothing_to_review_result(prepared: PreparedDiff) -> EngineResult:
    plan = plan_chunks(prepared)
    return EngineResult(
        provider=routing.OFFLINE,
        model=OFFLINE_MODEL,
        summary=_nothing_to_review(plan),
        risk_level="low",
        findings=(),
        coverage=plan.coverage,
        usage=Usage(),
        byok=False,
        extra={"engine": "none", "chunks": 0, "files_changed": len(prepared.skipped), "failed_attempts": []},
    )
