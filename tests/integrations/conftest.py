"""Fixtures of the GitHub integration tests: signed deliveries, the fake GitHub server, the App key.

Everything runs against the real PostgreSQL and Redis; GitHub is `FakeGitHub` (a local HTTP server
speaking GitHub's REST wire format). Payloads are GitHub's real examples (tests/fixtures/github).
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client

from integrations.github import signatures
from tests.integrations.fakegithub import FakeGitHub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
WEBHOOK_SECRET = "test-webhook-secret"  # noqa: S105 - test only
APP_ID = "424242"


def payload(name: str) -> dict[str, Any]:
    """A real GitHub payload, e.g. payload("pull_request/opened") (a fresh copy each call)."""
    folder, _, stem = name.partition("/")
    for candidate in (FIXTURES / folder / f"{stem}.payload.json", FIXTURES / folder / f"{stem}.json"):
        if candidate.exists():
            return copy.deepcopy(_load(str(candidate)))
    raise FileNotFoundError(name)


@lru_cache(maxsize=64)
def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def comment_command(body: str, *, association: str = "OWNER", comment_id: int | None = None,
                    user_type: str = "User", repository_id: int = 186853002) -> dict[str, Any]:
    """The real issue_comment.created payload, turned into a comment on a pull request saying `body`."""
    data = payload("issue_comment/created.with-installation")
    data["comment"]["body"] = body
    data["comment"]["author_association"] = association
    data["comment"]["id"] = comment_id or secrets.randbelow(10**9) + 1
    data["comment"]["user"]["type"] = user_type
    data["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
        "html_url": "https://github.com/Codertocat/Hello-World/pull/1",
        "diff_url": "https://github.com/Codertocat/Hello-World/pull/1.diff",
        "patch_url": "https://github.com/Codertocat/Hello-World/pull/1.patch",
    }
    data["repository"]["id"] = repository_id
    return data


class Deliveries:
    """Posts signed deliveries to the real intake view."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(self, event: str, body: dict[str, Any] | bytes, *, delivery_id: str | None = None,
             secret: str = WEBHOOK_SECRET, signature: str | None = None, headers: dict[str, str] | None = None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id or f"{secrets.token_hex(8)}-0000-11ee-8000-{secrets.token_hex(6)}",
            "X-Hub-Signature-256": signature or signatures.sign(secret, raw),
            "X-GitHub-Hook-ID": "292430182",
            "User-Agent": "GitHub-Hookshot/e9dcf5f",
            **(headers or {}),
        }
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        return self.client.post("/webhooks/github", data=raw, content_type="application/json", headers=all_headers)


@pytest.fixture
def github_settings(settings: Any) -> Any:
    settings.GITHUB_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GITHUB_APP_ID = APP_ID
    settings.GITHUB_APP_PRIVATE_KEY = app_key()[0]
    settings.SENTINEL_RETRY_BACKOFF_SCALE = 0.1
    return settings


@pytest.fixture
def deliveries(github_settings: Any) -> Deliveries:
    return Deliveries(Client())


@lru_cache(maxsize=1)
def app_key() -> tuple[str, str]:
    """(private PEM, public PEM) of a throwaway GitHub App key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture
def clean_redis() -> Iterator[redis.Redis]:
    """Our Redis database (TEST_REDIS_URL), empty before and after: queues, tokens, budgets."""
    conn = redis.Redis.from_url(django_settings.REDIS_URL)
    conn.flushdb()
    cache.clear()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def fake_github(httpserver: Any, github_settings: Any, clean_redis: redis.Redis) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(httpserver, app_id=APP_ID, public_key_pem=app_key()[1])
    github_settings.GITHUB_API_URL = fake.url
    yield fake
    assert not fake.violations, f"requests GitHub would reject: {fake.violations}"
