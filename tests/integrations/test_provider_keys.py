"""BYOK provider keys: encrypted at rest, masked everywhere, validated on request, roles enforced."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from pytest_httpserver import HTTPServer

from integrations.ai import services
from integrations.models import ProviderKey, ProviderKeyStatus
from integrations.signals import provider_key_invalidated
from tests.integrations import llm
from tests.workspaces.factories import add_member, make_workspace, session_client
from workspaces.models import Role

pytestmark = pytest.mark.django_db


def url(workspace, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{workspace.slug}/ai/keys/{suffix}"


@pytest.fixture
def workspace():
    return make_workspace()


@pytest.fixture
def admin_client(workspace):
    return session_client(add_member(workspace, Role.ADMIN).user)


def test_secret_is_encrypted_at_rest_and_never_returned(workspace, admin_client, log_records):
    response = admin_client.post(
        url(workspace), {"provider": "openai", "label": "prod", "secret": llm.OPENAI_KEY}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["masked_key"] == "…1234" and body["last4"] == "1234"
    assert "secret" not in body and llm.OPENAI_KEY not in response.content.decode()
    key = ProviderKey.objects.get(pk=body["id"])
    assert llm.OPENAI_KEY not in key.encrypted_secret
    with connection.cursor() as cursor:  # nothing in any column holds the plaintext
        cursor.execute("SELECT row_to_json(k)::text FROM integrations_providerkey k WHERE id = %s", [key.pk])
        assert llm.OPENAI_KEY not in cursor.fetchone()[0]
    assert key.reveal() == llm.OPENAI_KEY
    assert llm.OPENAI_KEY not in repr(key) and llm.OPENAI_KEY not in str(key)

    listing = admin_client.get(url(workspace)).json()
    assert [k["masked_key"] for k in listing["results"]] == ["…1234"]
    assert llm.OPENAI_KEY not in json.dumps(listing)
    assert llm.OPENAI_KEY not in json.dumps(log_records())
    assert any(r.get("event") == "provider_key.created" for r in log_records())


def test_add_with_validation_calls_the_provider_and_rejects_a_bad_key(
    workspace, admin_client, httpserver: HTTPServer
):
    httpserver.expect_ordered_request("/v1/models").respond_with_json({"object": "list", "data": []})
    body = {
        "error": {
            "message": "Incorrect API key provided: sk-bad...",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "param": None,
        }
    }
    httpserver.expect_ordered_request("/v1/models").respond_with_json(body, status=401)
    payload = {
        "provider": "openai",
        "label": "local",
        "secret": llm.OPENAI_KEY,
        "base_url": httpserver.url_for("/v1"),
        "validate": True,
    }

    ok = admin_client.post(url(workspace), payload, format="json")
    rejected = admin_client.post(url(workspace), {**payload, "label": "other"}, format="json")

    assert ok.status_code == 201 and ok.json()["last_validated_at"]
    assert rejected.status_code == 400
    assert rejected.json()["error"]["code"] == "provider_key_rejected"
    assert llm.OPENAI_KEY not in rejected.content.decode()
    assert ProviderKey.objects.for_workspace(workspace).count() == 1


def test_test_action_marks_a_rejected_key_invalid_and_tells_the_workspace(
    workspace, admin_client, httpserver: HTTPServer, django_capture_on_commit_callbacks
):
    key = services.provider_key_create(
        workspace=workspace,
        actor=None,
        provider="anthropic",
        label="a",
        secret=llm.ANTHROPIC_KEY,
        base_url=httpserver.url_for("").rstrip("/"),
    )
    httpserver.expect_ordered_request("/v1/models").respond_with_json(
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
        status=401,
    )
    httpserver.expect_ordered_request("/v1/models").respond_with_json(
        {"data": [], "has_more": False, "first_id": None, "last_id": None}
    )
    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    provider_key_invalidated.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            failed = admin_client.post(url(workspace, f"{key.pk}/test/")).json()
        passed = admin_client.post(url(workspace, f"{key.pk}/test/")).json()
    finally:
        provider_key_invalidated.disconnect(receiver)

    assert failed["ok"] is False and failed["status"] == "invalid"
    assert failed["error"]["code"] == "auth_failed"
    assert [(r["workspace_id"], r["provider"], r["key_id"]) for r in received] == [
        (workspace.pk, "anthropic", key.pk)
    ]
    assert passed["ok"] is True and passed["status"] == "active"


def test_members_read_but_only_admins_write(workspace):
    member = session_client(add_member(workspace, Role.MEMBER).user)
    key = services.provider_key_create(
        workspace=workspace, actor=None, provider="openai", label="k", secret=llm.OPENAI_KEY
    )

    assert member.get(url(workspace)).status_code == 200
    assert (
        member.post(
            url(workspace), {"provider": "openai", "label": "x", "secret": "sk-1234567890"}, format="json"
        ).status_code
        == 403
    )
    assert member.delete(url(workspace, f"{key.pk}/")).status_code == 403
    assert member.post(url(workspace, f"{key.pk}/test/")).status_code == 403
    owner = session_client(workspace.owner)
    assert owner.delete(url(workspace, f"{key.pk}/")).status_code == 204
    assert not ProviderKey.objects.filter(pk=key.pk).exists()


def test_keys_of_another_workspace_are_not_found(workspace, admin_client):
    other = make_workspace()
    key = services.provider_key_create(
        workspace=other, actor=None, provider="openai", label="k", secret=llm.OPENAI_KEY
    )
    assert admin_client.get(url(workspace, f"{key.pk}/")).status_code == 404
    assert admin_client.delete(url(workspace, f"{key.pk}/")).status_code == 404
    assert admin_client.get(url(workspace)).json()["results"] == []


def test_duplicate_label_is_a_conflict(workspace, admin_client):
    payload = {"provider": "openai", "label": "same", "secret": llm.OPENAI_KEY}
    assert admin_client.post(url(workspace), payload, format="json").status_code == 201
    response = admin_client.post(url(workspace), payload, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "duplicate_label"


def test_rotation_re_encrypts_with_the_newest_key(workspace, settings):
    old = Fernet.generate_key().decode()
    settings.SENTINEL_ENCRYPTION_KEY = old
    key = services.provider_key_create(
        workspace=workspace, actor=None, provider="openai", label="k", secret=llm.OPENAI_KEY
    )
    new = Fernet.generate_key().decode()
    settings.SENTINEL_ENCRYPTION_KEY = f"{new},{old}"
    out = io.StringIO()
    call_command("rotate_provider_keys", stdout=out)
    assert "re-encrypted" in out.getvalue()
    settings.SENTINEL_ENCRYPTION_KEY = new  # the old key is gone: the secret still decrypts
    key.refresh_from_db()
    assert key.reveal() == llm.OPENAI_KEY
    assert key.status == ProviderKeyStatus.ACTIVE


@pytest.mark.parametrize(
    ("base_url", "allow_private", "allowlist", "blocked"),
    [
        ("http://10.0.0.5/v1", False, [], True),
        ("http://169.254.169.254/latest", False, [], True),  # cloud metadata
        ("http://localhost:11434/v1", False, [], True),
        ("http://ollama.internal:11434/v1", False, [], True),
        ("http://localhost:11434/v1", True, [], False),  # self-hosted Ollama, allowed by the operator
        ("https://93.184.216.34/v1", False, ["localhost"], True),  # not on the allowlist
        ("ftp://example.com/", True, [], True),
    ],
)
def test_base_urls_are_guarded_against_request_forgery(settings, base_url, allow_private, allowlist, blocked):
    from integrations.ai.egress import EgressBlocked, check_destination

    settings.SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS = allow_private
    settings.SENTINEL_AI_EGRESS_ALLOWLIST = allowlist
    if blocked:
        with pytest.raises(EgressBlocked):
            check_destination("openai", base_url)
    else:
        check_destination("openai", base_url)


def test_a_private_base_url_is_refused_before_any_call(workspace, admin_client, settings):
    settings.SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS = False
    payload = {
        "provider": "openai",
        "label": "x",
        "secret": llm.OPENAI_KEY,
        "base_url": "http://10.1.2.3/v1",
        "validate": True,
    }
    response = admin_client.post(url(workspace), payload, format="json")
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["fields"]


def test_admin_lists_and_shows_keys_without_the_secret(workspace, client):
    from django.contrib.auth import get_user_model

    key = services.provider_key_create(
        workspace=workspace, actor=None, provider="openai", label="ops", secret=llm.OPENAI_KEY
    )
    operator = get_user_model().objects.create_superuser("ops-admin", "ops@example.com", None)
    client.force_login(operator)

    listing = client.get("/admin/integrations/providerkey/")
    detail = client.get(f"/admin/integrations/providerkey/{key.pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing, detail):
        html = page.content.decode()
        assert "…1234" in html
        assert llm.OPENAI_KEY not in html and key.encrypted_secret not in html
    assert client.get("/admin/integrations/providerkey/add/").status_code == 403
