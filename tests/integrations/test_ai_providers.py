"""The OpenAI and Anthropic providers against local servers speaking the real wire formats."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from integrations.ai import errors
from integrations.ai.anthropic_provider import AnthropicProvider
from integrations.ai.base import Credentials, ProviderRequest
from integrations.ai.openai_provider import OpenAIProvider
from queues.exceptions import PermanentFailure, RetryAfter
from tests.integrations import llm

REQUEST = ProviderRequest(
    instructions="Review the diff.",
    prompt="Diff:\n### app.py (modified)\n@@ -1,1 +1,2 @@\n     1 | import os\n+    2 | eval(x)",
    model="gpt-4o-mini",
    max_output_tokens=1024,
    timeout_seconds=5.0,
)
ANTHROPIC_REQUEST = ProviderRequest(
    instructions=REQUEST.instructions,
    prompt=REQUEST.prompt,
    model="claude-sonnet-4-5",
    max_output_tokens=1024,
    timeout_seconds=5.0,
)


def openai(server: HTTPServer) -> OpenAIProvider:
    return OpenAIProvider(Credentials(api_key=llm.OPENAI_KEY, base_url=server.url_for("/v1")))


def anthropic(server: HTTPServer) -> AnthropicProvider:
    return AnthropicProvider(Credentials(api_key=llm.ANTHROPIC_KEY, base_url=server.url_for("").rstrip("/")))


# --- OpenAI -------------------------------------------------------------------------------------
def test_openai_success_sends_json_schema_and_returns_validated_findings_with_usage(httpserver: HTTPServer):
    llm.expect_openai_review(
        httpserver, llm.review_payload([llm.finding("app.py", 2, title="eval on input")])
    )

    reply = openai(httpserver).review(REQUEST)

    assert [f.title for f in reply.review.findings] == ["eval on input"]
    assert (reply.input_tokens, reply.output_tokens, reply.calls, reply.repaired) == (1200, 150, 1, False)
    assert reply.model == "gpt-4o-mini-2024-07-18"
    # gpt-4o-mini: $0.15 / $0.60 per 1M tokens -> 1200*0.15 + 150*0.6 = 270 micro-USD
    assert reply.cost_microusd == 270
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {llm.OPENAI_KEY}"
    body = llm.sent_json(httpserver)
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][0] == {"role": "system", "content": "Review the diff."}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["max_completion_tokens"] == 1024


def test_openai_429_with_retry_after_raises_rate_limited_for_the_job_platform(httpserver: HTTPServer):
    llm.expect_openai_error(
        httpserver,
        429,
        llm.openai_error_body("error-429-rate-limit-exceeded.json", 1),
        headers={"retry-after": "7"},
    )

    with pytest.raises(errors.RateLimited) as caught:
        openai(httpserver).review(REQUEST)

    error = caught.value
    assert isinstance(error, RetryAfter)  # the job platform reschedules the job after error.seconds
    assert (error.retry_after, error.seconds, error.status) == (7.0, 7, 429)
    assert error.provider == "openai" and error.model == "gpt-4o-mini"
    assert "Rate limit reached" in error.provider_message
    assert len(httpserver.log) == 1  # no hidden SDK retries


def test_openai_429_without_header_uses_the_wait_in_the_message(httpserver: HTTPServer):
    llm.expect_openai_error(httpserver, 429, llm.openai_error_body("error-429-rate-limit-exceeded.json", 1))
    with pytest.raises(errors.RateLimited) as caught:
        openai(httpserver).review(REQUEST)
    assert caught.value.retry_after == pytest.approx(26.604)


def test_openai_insufficient_quota_is_not_a_rate_limit(httpserver: HTTPServer):
    llm.expect_openai_error(httpserver, 429, llm.openai_error_body("error-429-insufficient-quota.json"))
    with pytest.raises(errors.QuotaExhausted) as caught:
        openai(httpserver).review(REQUEST)
    assert caught.value.fallback is True


@pytest.mark.parametrize(
    ("status", "fixture", "expected"),
    [
        (503, "error-503-overloaded.json", errors.Overloaded),
        (500, "error-500-server-error.json", errors.ServerError),
    ],
)
def test_openai_server_errors_are_typed_and_allow_fallback(httpserver: HTTPServer, status, fixture, expected):
    llm.expect_openai_error(httpserver, status, llm.openai_error_body(fixture))
    with pytest.raises(expected) as caught:
        openai(httpserver).review(REQUEST)
    assert caught.value.status == status
    assert caught.value.fallback is True


def test_openai_401_is_auth_failed_and_the_key_is_scrubbed_from_the_message(httpserver: HTTPServer):
    body = {
        "error": {
            "message": f"Incorrect API key provided: {llm.OPENAI_KEY}. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    llm.expect_openai_error(httpserver, 401, body)

    with pytest.raises(errors.AuthFailed) as caught:
        openai(httpserver).review(REQUEST)

    error = caught.value
    assert llm.OPENAI_KEY not in str(error)
    assert llm.OPENAI_KEY not in json.dumps(error.as_dict())
    assert "[REDACTED" in error.provider_message
    assert error.__cause__ is None and error.__suppress_context__  # no SDK exception (with the body) chained


def test_openai_400_is_a_permanent_bad_request(httpserver: HTTPServer):
    body = {
        "error": {
            "message": "Invalid schema for response_format",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    llm.expect_openai_error(httpserver, 400, body)
    with pytest.raises(errors.BadRequest) as caught:
        openai(httpserver).review(REQUEST)
    assert isinstance(caught.value, PermanentFailure)


def test_openai_timeout(httpserver: HTTPServer):
    httpserver.expect_request("/v1/chat/completions").respond_with_handler(
        llm.slow(1.5, llm.openai_completion(json.dumps(llm.review_payload())))
    )
    quick = ProviderRequest(**{**REQUEST.__dict__, "timeout_seconds": 0.3})
    with pytest.raises(errors.Timeout) as caught:
        openai(httpserver).review(quick)
    assert caught.value.fallback is True
    llm.wait_for_requests(httpserver, 1)


def test_openai_invalid_json_is_repaired_once(httpserver: HTTPServer):
    llm.expect_openai_review(
        httpserver, "Sure! Here are my findings: the eval is bad.", prompt_tokens=1000, completion_tokens=20
    )
    llm.expect_openai_review(
        httpserver, llm.review_payload([llm.finding("app.py", 2)]), prompt_tokens=1100, completion_tokens=90
    )

    reply = openai(httpserver).review(REQUEST)

    assert reply.repaired is True and reply.calls == 2
    assert (reply.input_tokens, reply.output_tokens) == (2100, 110)
    assert len(reply.review.findings) == 1
    repair = llm.sent_json(httpserver, 1)["messages"]
    assert repair[2] == {"role": "assistant", "content": "Sure! Here are my findings: the eval is bad."}
    assert "not valid JSON" in repair[3]["content"]


def test_openai_output_invalid_twice_raises_invalid_output(httpserver: HTTPServer):
    llm.expect_openai_review(httpserver, "not json")
    llm.expect_openai_review(
        httpserver, json.dumps({"summary": "x", "risk_level": "low", "findings": [{"file": "a.py"}]})
    )

    with pytest.raises(errors.InvalidOutput) as caught:
        openai(httpserver).review(REQUEST)

    assert "findings.0.severity" in caught.value.message
    assert len(httpserver.log) == 2  # exactly one repair attempt


def test_openai_compatible_server_without_usage_is_estimated(httpserver: HTTPServer):
    body = llm.openai_completion(json.dumps(llm.review_payload()), model="llama3.1:8b")
    del body["usage"]
    httpserver.expect_request("/v1/chat/completions").respond_with_json(body)
    reply = openai(httpserver).review(ProviderRequest(**{**REQUEST.__dict__, "model": "llama3.1:8b"}))
    assert reply.input_tokens > 0 and reply.cost_microusd == 0


def test_openai_key_validation_uses_the_model_list(httpserver: HTTPServer):
    httpserver.expect_request("/v1/models", method="GET").respond_with_json({"object": "list", "data": []})
    openai(httpserver).validate_credentials()
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {llm.OPENAI_KEY}"


# --- Anthropic ----------------------------------------------------------------------------------
def test_anthropic_success_forces_the_review_tool_and_reads_its_input(httpserver: HTTPServer):
    llm.expect_anthropic_review(
        httpserver, llm.review_payload([llm.finding("app.py", 2, title="eval on input")])
    )

    reply = anthropic(httpserver).review(ANTHROPIC_REQUEST)

    assert [f.title for f in reply.review.findings] == ["eval on input"]
    assert (reply.input_tokens, reply.output_tokens) == (1500, 200)
    # claude-sonnet-4-5: $3 / $15 per 1M -> 1500*3 + 200*15 = 7500 micro-USD
    assert reply.cost_microusd == 7500
    request, _ = httpserver.log[0]
    # SDK versions differ: `x-api-key: <key>` or `Authorization: Bearer <key>`.
    sent_key = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix(
        "Bearer "
    )
    assert sent_key == llm.ANTHROPIC_KEY
    assert request.headers["anthropic-version"]
    body = llm.sent_json(httpserver)
    assert body["system"] == "Review the diff."
    assert body["tool_choice"] == {"type": "tool", "name": "submit_review"}
    assert body["tools"][0]["input_schema"]["required"] == ["summary", "risk_level", "findings"]


def test_anthropic_429_with_retry_after(httpserver: HTTPServer):
    body, headers = llm.anthropic_429()
    llm.expect_anthropic_error(httpserver, 429, body, headers={**headers, "retry-after": "12"})
    with pytest.raises(errors.RateLimited) as caught:
        anthropic(httpserver).review(ANTHROPIC_REQUEST)
    assert (caught.value.retry_after, caught.value.status) == (12.0, 429)
    assert "rate limit" in caught.value.provider_message
    assert len(httpserver.log) == 1


def test_anthropic_529_is_overloaded(httpserver: HTTPServer):
    body, headers = llm.anthropic_529()
    llm.expect_anthropic_error(httpserver, 529, body, headers=headers)
    with pytest.raises(errors.Overloaded) as caught:
        anthropic(httpserver).review(ANTHROPIC_REQUEST)
    assert (caught.value.status, caught.value.provider_message) == (529, "Overloaded")


def test_anthropic_500_and_400(httpserver: HTTPServer):
    llm.expect_anthropic_error(httpserver, 500, llm.load("anthropic/error-500-api-error.json")["body"])
    with pytest.raises(errors.ServerError):
        anthropic(httpserver).review(ANTHROPIC_REQUEST)
    bad = llm.load("anthropic/error-400-invalid-request.recorded.json")[1]["response"]["body"]
    llm.expect_anthropic_error(httpserver, 400, bad)
    with pytest.raises(errors.BadRequest):
        anthropic(httpserver).review(ANTHROPIC_REQUEST)


def test_anthropic_401_is_auth_failed(httpserver: HTTPServer):
    body = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    llm.expect_anthropic_error(httpserver, 401, body)
    with pytest.raises(errors.AuthFailed):
        anthropic(httpserver).review(ANTHROPIC_REQUEST)


def test_anthropic_timeout(httpserver: HTTPServer):
    httpserver.expect_request("/v1/messages").respond_with_handler(
        llm.slow(1.5, llm.anthropic_message(llm.review_payload()))
    )
    with pytest.raises(errors.Timeout):
        anthropic(httpserver).review(
            ProviderRequest(**{**ANTHROPIC_REQUEST.__dict__, "timeout_seconds": 0.3})
        )
    llm.wait_for_requests(httpserver, 1)


def test_anthropic_text_reply_is_validated_then_repaired_then_rejected(httpserver: HTTPServer):
    llm.expect_anthropic_review(httpserver, '```json\n{"summary": "ok"\n```')  # truncated JSON
    llm.expect_anthropic_review(httpserver, {"summary": "ok", "risk_level": "extreme", "findings": []})

    with pytest.raises(errors.InvalidOutput) as caught:
        anthropic(httpserver).review(ANTHROPIC_REQUEST)

    assert "risk_level" in caught.value.message
    second = llm.sent_json(httpserver, 1)["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
