"""Local OpenAI and Anthropic servers for tests: real wire formats from tests/fixtures/llm/.

Each helper registers one response on a pytest-httpserver `HTTPServer`, built from the recorded
or documented bodies (status, headers, JSON shape), with the review JSON Sentinel expects in the
places the real APIs put model output (`choices[0].message.content` for OpenAI, a `tool_use`
block's `input` for Anthropic).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llm"

OPENAI_KEY = "sk-proj-TESTKEYabcdefghijklmnopqrstuv1234"
ANTHROPIC_KEY = "sk-ant-api03-TESTKEYabcdefghijklmnopqrstuvwxyz-5678"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def review_payload(
    findings: list[dict[str, Any]] | None = None, *, summary: str = "Looks risky.", risk: str = "medium"
) -> dict[str, Any]:
    return {"summary": summary, "risk_level": risk, "findings": findings or []}


def finding(
    path: str,
    line: int | None,
    *,
    title: str = "Possible bug",
    severity: str = "high",
    category: str = "bug",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "file": path,
        "start_line": line,
        "end_line": line,
        "severity": severity,
        "category": category,
        "title": title,
        "body": extra.pop("body", "Explain the problem."),
        "suggestion": extra.pop("suggestion", None),
        "confidence": extra.pop("confidence", 0.9),
        **extra,
    }


# --- OpenAI -------------------------------------------------------------------------------------
def openai_completion(
    content: str,
    *,
    prompt_tokens: int = 1200,
    completion_tokens: int = 150,
    model: str = "gpt-4o-mini-2024-07-18",
) -> dict[str, Any]:
    body = copy.deepcopy(load("openai/chat-completions.example.json")["response"]["body"])
    body["model"] = model
    body["choices"][0]["message"]["content"] = content
    body["usage"]["prompt_tokens"] = prompt_tokens
    body["usage"]["completion_tokens"] = completion_tokens
    body["usage"]["total_tokens"] = prompt_tokens + completion_tokens
    return body


def expect_openai_review(server: HTTPServer, payload: dict[str, Any] | str, **kwargs: Any) -> None:
    content = payload if isinstance(payload, str) else json.dumps(payload)
    server.expect_ordered_request("/v1/chat/completions", method="POST").respond_with_json(
        openai_completion(content, **kwargs)
    )


def expect_openai_error(
    server: HTTPServer, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    server.expect_ordered_request("/v1/chat/completions", method="POST").respond_with_json(
        body, status=status, headers=headers or {}
    )


def openai_error_body(name: str, variant: int = 0) -> dict[str, Any]:
    data = load(f"openai/{name}")
    return data["variants"][variant]["body"] if "variants" in data else data["body"]


# --- Anthropic ----------------------------------------------------------------------------------
def anthropic_message(
    payload: dict[str, Any] | str,
    *,
    input_tokens: int = 1500,
    output_tokens: int = 200,
    model: str = "claude-sonnet-4-5-20250929",
) -> dict[str, Any]:
    recorded = load("anthropic/error-400-invalid-request.recorded.json")[0]["response"][
        "body"
    ]  # a tool_use turn
    body = copy.deepcopy(recorded)
    body["model"] = model
    if isinstance(payload, str):
        body["content"] = [{"type": "text", "text": payload}]
        body["stop_reason"] = "end_turn"
    else:
        body["content"][0]["name"] = "submit_review"
        body["content"][0]["input"] = payload
    body["usage"]["input_tokens"] = input_tokens
    body["usage"]["output_tokens"] = output_tokens
    return body


def expect_anthropic_review(server: HTTPServer, payload: dict[str, Any] | str, **kwargs: Any) -> None:
    server.expect_ordered_request("/v1/messages", method="POST").respond_with_json(
        anthropic_message(payload, **kwargs)
    )


def expect_anthropic_error(
    server: HTTPServer, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    server.expect_ordered_request("/v1/messages", method="POST").respond_with_json(
        body, status=status, headers=headers or {}
    )


def anthropic_429() -> tuple[dict[str, Any], dict[str, str]]:
    response = load("anthropic/error-429-rate-limit.then-200.recorded.json")[0]["response"]
    headers = {
        k: v
        for k, v in response["headers"].items()
        if k not in ("content-length", "content-type", "connection")
    }
    return response["body"], headers


def anthropic_529() -> tuple[dict[str, Any], dict[str, str]]:
    variant = load("anthropic/error-529-overloaded.json")["variants"][0]
    headers = {
        k: v
        for k, v in variant["headers"].items()
        if k not in ("content-length", "content-type", "connection", "date")
    }
    return variant["body"], headers


def slow(seconds: float, body: dict[str, Any]):
    """A handler that answers only after `seconds` (for client timeouts)."""

    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response(json.dumps(body), status=200, content_type="application/json")

    return handler


def wait_for_requests(server: HTTPServer, count: int, timeout: float = 5.0) -> None:
    """Let a slow handler finish before the test ends, so its request is not logged in the next test."""
    deadline = time.monotonic() + timeout
    while len(server.log) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def sent_json(server: HTTPServer, index: int = -1) -> dict[str, Any]:
    request, _ = server.log[index]
    return json.loads(request.get_data(as_text=True))
