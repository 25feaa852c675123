"""Eligibility and routing through the real engine: BYOK keys, the plan, fallback, rate limits,
auth failures, the circuit breaker, budgets — against local OpenAI/Anthropic servers."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from integrations.ai import errors, services
from integrations.models import ProviderKey, ProviderKeyStatus
from integrations.signals import provider_key_invalidated
from queues.dispatch import dispatch
from queues.models import DeadLetter
from queues.testing import drain
from reviews.engine.service import review
from reviews.engine.types import EngineRequest
from tests.engine import jobs
from tests.engine.helpers import added_file_diff, fixture_diff
from tests.integrations import llm
from tests.workspaces.factories import make_workspace

DIFF = fixture_diff("planted.diff")


@pytest.fixture(autouse=True)
def _clean_redis(redis_conn):
    """Circuit breakers live in Redis (our test db only)."""
    yield


def add_key(workspace, provider: str, server: HTTPServer, **extra) -> ProviderKey:
    base_url = server.url_for("/v1") if provider == "openai" else server.url_for("").rstrip("/")
    secret = llm.OPENAI_KEY if provider == "openai" else llm.ANTHROPIC_KEY
    return services.provider_key_create(
        workspace=workspace,
        actor=None,
        provider=provider,
        label=extra.pop("label", provider),
        secret=secret,
        base_url=base_url,
        **extra,
    )


def run(workspace, policy: dict | None = None, diff: str = DIFF):
    return review(EngineRequest(workspace_id=workspace.pk, diff=diff, policy=policy or {}, run_id=7))


@pytest.mark.django_db
def test_without_keys_the_default_offline_engine_reviews():
    result = run(make_workspace())
    assert (result.provider, result.byok) == ("offline", False)


@pytest.mark.django_db
def test_a_byok_key_is_used_with_its_model_and_findings_are_anchored(httpserver: HTTPServer):
    workspace = make_workspace()
    key = add_key(workspace, "openai", httpserver, default_model="gpt-4o")
    llm.expect_openai_review(
        httpserver,
        llm.review_payload(
            [
                llm.finding(
                    "app/payments.py", 16, title="eval of amount", severity="critical", category="security"
                ),
                llm.finding("app/payments.py", 400, title="Line outside the diff"),
                llm.finding("not/in/diff.py", 3, title="Unknown file"),
                llm.finding(
                    "app/payments.py",
                    11,
                    title=f"Leaks {llm.OPENAI_KEY}",
                    body="token sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ",
                ),
            ]
        ),
    )

    result = run(workspace)

    assert (result.provider, result.model, result.byok) == ("openai", "gpt-4o-mini-2024-07-18", True)
    assert llm.sent_json(httpserver)["model"] == "gpt-4o"
    by_title = {f.title: f for f in result.findings}
    assert by_title["eval of amount"].start_line == 16
    assert by_title["Line outside the diff"].start_line is None  # file-level, never a broken inline comment
    assert "Unknown file" not in by_title
    leaked = next(f for f in result.findings if f.start_line == 11)
    assert llm.OPENAI_KEY not in leaked.title and "sk_live_" not in leaked.body  # scrubbed on the way out
    assert result.extra["dropped"] == {"path_not_reviewed": 1}
    assert result.usage.calls == 1 and result.usage.cost_microusd > 0
    prompt = llm.sent_json(httpserver)["messages"][1]["content"]
    assert "sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ" not in prompt and "[REDACTED:stripe_key]" in prompt
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.django_db
def test_overloaded_provider_falls_back_to_the_next_one(httpserver: HTTPServer):
    workspace = make_workspace()
    add_key(workspace, "anthropic", httpserver)
    add_key(workspace, "openai", httpserver)
    body, headers = llm.anthropic_529()
    llm.expect_anthropic_error(httpserver, 529, body, headers=headers)
    llm.expect_openai_review(
        httpserver, llm.review_payload([llm.finding("app/payments.py", 16, title="eval")])
    )

    result = run(workspace)

    assert result.provider == "openai"
    assert [a["code"] for a in result.extra["failed_attempts"]] == ["overloaded"]
    assert result.extra["failed_attempts"][0]["provider"] == "anthropic"
    assert [r.path for r, _ in httpserver.log] == ["/v1/messages", "/v1/chat/completions"]


@pytest.mark.django_db
def test_timeout_falls_back_and_a_5xx_after_it_too(httpserver: HTTPServer, settings):
    settings.SENTINEL_AI_TIMEOUT = 0.3
    workspace = make_workspace()
    openai_server = HTTPServer()  # its own server: the slow Anthropic handler blocks the shared one
    openai_server.start()
    try:
        add_key(workspace, "anthropic", httpserver)
        add_key(workspace, "openai", openai_server)
        httpserver.expect_ordered_request("/v1/messages").respond_with_handler(
            llm.slow(1.0, llm.anthropic_message(llm.review_payload()))
        )
        llm.expect_openai_error(openai_server, 500, llm.openai_error_body("error-500-server-error.json"))

        result = run(workspace)  # both fail: the default offline engine is the last resort
    finally:
        openai_server.clear()
        openai_server.stop()

    assert result.provider == "offline"
    assert [a["code"] for a in result.extra["failed_attempts"]] == ["timeout", "server_error"]
    llm.wait_for_requests(httpserver, 1)


@pytest.mark.django_db
def test_rate_limit_propagates_for_the_job_platform_and_does_not_fall_back(httpserver: HTTPServer):
    workspace = make_workspace()
    add_key(workspace, "anthropic", httpserver)
    add_key(workspace, "openai", httpserver)
    body, headers = llm.anthropic_429()
    llm.expect_anthropic_error(httpserver, 429, body, headers={**headers, "retry-after": "20"})

    with pytest.raises(errors.RateLimited) as caught:
        run(workspace)

    assert caught.value.seconds == 20
    assert len(httpserver.log) == 1  # OpenAI was not tried


@pytest.mark.django_db
def test_auth_failure_marks_the_key_invalid_tells_the_workspace_and_falls_back(
    httpserver: HTTPServer, django_capture_on_commit_callbacks
):
    workspace = make_workspace()
    key = add_key(workspace, "openai", httpserver)
    llm.expect_openai_error(
        httpserver,
        401,
        {
            "error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "param": None,
            }
        },
    )
    received = []
    provider_key_invalidated.connect(
        lambda **kw: received.append(kw), weak=False, dispatch_uid="test-routing"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = run(workspace)
    finally:
        provider_key_invalidated.disconnect(dispatch_uid="test-routing")

    assert result.provider == "offline"
    key.refresh_from_db()
    assert key.status == ProviderKeyStatus.INVALID and "auth_failed" in key.last_error
    assert [(r["workspace_id"], r["provider"], r["key_id"]) for r in received] == [
        (workspace.pk, "openai", key.pk)
    ]
    again = run(workspace)  # the invalid key is out of routing: no more calls with it
    assert again.provider == "offline" and len(httpserver.log) == 1


@pytest.mark.django_db
def test_circuit_breaker_opens_after_repeated_failures_and_skips_the_provider(
    httpserver: HTTPServer, settings
):
    settings.SENTINEL_AI_BREAKER_THRESHOLD = 2
    workspace = make_workspace()
    add_key(workspace, "openai", httpserver)
    for _ in range(2):
        llm.expect_openai_error(httpserver, 503, llm.openai_error_body("error-503-overloaded.json"))
    run(workspace)
    run(workspace)

    result = run(workspace)

    assert result.provider == "offline" and len(httpserver.log) == 2  # third review did not call OpenAI
    with pytest.raises(errors.NoEligibleProvider) as caught:
        run(workspace, {"provider": {"preferred": "openai", "fallback": False}})
    assert "cooling down" in caught.value.reasons["openai"]


@pytest.mark.django_db
def test_the_plan_decides_platform_keys_and_nothing_eligible_is_explained(settings):
    settings.SENTINEL_PLATFORM_OPENAI_API_KEY = "sk-platform-not-allowed-on-free-0000"
    workspace = make_workspace()  # free plan: BYOK required

    with pytest.raises(errors.NoEligibleProvider) as caught:
        run(workspace, {"provider": {"preferred": "openai", "fallback": False}})

    assert caught.value.reasons["openai"].startswith("byok_required")
    with pytest.raises(errors.NoEligibleProvider) as caught:
        run(workspace, {"provider": {"preferred": "anthropic", "fallback": False}})
    assert caught.value.reasons == {"anthropic": "no active key"}


@pytest.mark.django_db
def test_invalid_output_is_repaired_then_fails_without_fallback(httpserver: HTTPServer):
    workspace = make_workspace()
    add_key(workspace, "openai", httpserver)
    llm.expect_openai_review(httpserver, "{not json")
    llm.expect_openai_review(httpserver, "still not json")

    with pytest.raises(errors.InvalidOutput):
        run(workspace)

    assert len(httpserver.log) == 2


@pytest.mark.django_db
def test_a_pr_larger_than_the_budget_is_reviewed_in_several_calls_and_coverage_is_honest(
    httpserver: HTTPServer, settings
):
    settings.SENTINEL_AI_CALL_TOKEN_BUDGET = 1_000
    settings.SENTINEL_AI_MAX_CALLS = 4
    workspace = make_workspace()
    add_key(workspace, "openai", httpserver)
    files = [f"src/mod_{i:02}.py" for i in range(30)]
    diff = "".join(
        added_file_diff(path, [f"value_{n} = compute({n})  # {path}" for n in range(25)]) for path in files
    )

    def answer(request):
        from werkzeug import Response

        prompt = json.loads(request.get_data(as_text=True))["messages"][1]["content"]
        first = next(p for p in files if f"### {p} " in prompt)
        payload = llm.review_payload(
            [llm.finding(first, 1, title=f"Issue in {first}")], summary=f"part with {first}"
        )
        return Response(
            json.dumps(llm.openai_completion(json.dumps(payload))), content_type="application/json"
        )

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(answer)

    result = run(workspace, diff=diff)

    assert result.usage.calls == 4 == len(httpserver.log)
    assert len(result.findings) == 4  # merged from every call
    covered = set(result.coverage.reviewed) | set(result.coverage.clipped)
    too_large = {s.path for s in result.coverage.skipped if s.reason == "too_large"}
    assert covered | too_large == set(files) and covered.isdisjoint(too_large) and too_large
    assert result.summary.startswith("Part 1: part with src/mod_00.py")


@pytest.mark.django_db(transaction=True)
def test_the_key_never_reaches_logs_or_dead_letters(httpserver: HTTPServer, log_records, capsys):
    workspace = make_workspace()
    add_key(workspace, "openai", httpserver)
    add_key(workspace, "anthropic", httpserver)
    echo = {
        "error": {
            "message": f"Incorrect API key provided: {llm.OPENAI_KEY}.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "param": None,
        }
    }
    llm.expect_openai_error(httpserver, 401, echo)
    httpserver.expect_ordered_request("/v1/messages").respond_with_json(
        {
            "type": "error",
            "error": {"type": "api_error", "message": f"upstream saw x-api-key {llm.ANTHROPIC_KEY}"},
        },
        status=400,
    )

    dispatch(
        jobs.review_diff,
        workspace_id=workspace.pk,
        entity_ids={"case": 1},
        data={"diff": DIFF, "policy": {"provider": {"preferred": ["openai", "anthropic"]}}},
    )
    drain()

    dead = DeadLetter.objects.get()
    assert "BadRequest" in dead.error
    stored = json.dumps([dead.error, dead.traceback, dead.payload])
    captured = capsys.readouterr()
    everything = stored + json.dumps(log_records()) + captured.out + captured.err
    for secret in (llm.OPENAI_KEY, llm.ANTHROPIC_KEY):
        assert secret not in everything
        assert secret[8:] not in everything  # not even most of it
    assert ProviderKey.objects.get(provider="openai").status == ProviderKeyStatus.INVALID


@pytest.mark.django_db
def test_with_the_resolved_system_policy_an_overloaded_provider_still_falls_back(httpserver: HTTPServer):
    """The review flow's resolved policy always carries `provider.fallback: false` (the original's
    default) and no preferred provider: fallback across eligible providers still happens."""
    from reviews.policy import system_defaults

    policy = system_defaults()
    assert policy["provider"] == {"preferred": None, "model": None, "fallback": False}
    workspace = make_workspace()
    add_key(workspace, "openai", httpserver)
    llm.expect_openai_error(httpserver, 503, llm.openai_error_body("error-503-overloaded.json"))

    result = run(workspace, policy)

    assert result.provider == "offline"
    assert [a["code"] for a in result.extra["failed_attempts"]] == ["overloaded"]
    with pytest.raises(errors.Overloaded):  # a preferred provider without fallback is strict
        llm.expect_openai_error(httpserver, 503, llm.openai_error_body("error-503-overloaded.json"))
        run(workspace, {**policy, "provider": {"preferred": "openai", "model": None, "fallback": False}})


@pytest.mark.django_db
def test_platform_keys_serve_where_the_plan_allows_until_the_spend_cap(httpserver: HTTPServer, settings):
    from billing import services as billing
    from billing.selectors import plan_for

    settings.SENTINEL_PLATFORM_OPENAI_API_KEY = llm.OPENAI_KEY
    settings.SENTINEL_PLATFORM_OPENAI_BASE_URL = httpserver.url_for("/v1")
    workspace = make_workspace()
    billing.change_plan(workspace_id=workspace.pk, plan="pro")  # BYOK optional, platform spend capped
    policy = {"provider": {"preferred": "openai", "fallback": False}}
    llm.expect_openai_review(httpserver, llm.review_payload())

    result = run(workspace, policy)

    assert (result.provider, result.byok, result.extra["key_id"]) == ("openai", False, None)
    cap = plan_for(workspace.pk).ai_spend_cap_microusd
    billing.record_usage(
        workspace_id=workspace.pk,
        metric="platform_ai_cost_microusd",
        quantity=cap,
        idempotency_key="test:spend-cap",
    )
    with pytest.raises(errors.NoEligibleProvider) as caught:
        run(workspace, policy)
    assert caught.value.reasons["openai"].startswith("spend_cap_reached")
    assert len(httpserver.log) == 1  # checked before the call: nothing was sent
