"""Integrations API: installations, repositories (enable/disable within the plan, settings), deliveries."""

from __future__ import annotations

import pytest

from integrations import signals
from integrations.models import Repository
from tests.integrations.tenant_factories import make_repository, make_webhook_delivery
from tests.workspaces.factories import add_member, make_workspace, token_client
from workspaces.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return make_workspace()


@pytest.fixture
def admin_client(workspace):
    return token_client(workspace, add_member(workspace, Role.ADMIN).user)


def base(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.slug}"


def test_lists_installations_and_repositories_of_the_workspace(workspace, admin_client) -> None:
    repository = make_repository(workspace)
    installations = admin_client.get(f"{base(workspace)}/installations/").json()["results"]
    assert [i["id"] for i in installations] == [repository.installation_id]
    repositories = admin_client.get(f"{base(workspace)}/repositories/").json()["results"]
    assert [(r["full_name"], r["enabled"]) for r in repositories] == [(repository.full_name, False)]


def test_enable_respects_the_plans_repository_limit_and_sends_signals(workspace, admin_client, django_capture_on_commit_callbacks) -> None:
    repositories = [make_repository(workspace) for _ in range(4)]  # free plan: 3
    sent = []
    signals.repository_enabled.connect(lambda **kw: sent.append(kw["repository"].pk), weak=False, dispatch_uid="t-enabled")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for repository in repositories[:3]:
                assert admin_client.post(f"{base(workspace)}/repositories/{repository.pk}/enable/").status_code == 200
            refused = admin_client.post(f"{base(workspace)}/repositories/{repositories[3].pk}/enable/")
    finally:
        signals.repository_enabled.disconnect(dispatch_uid="t-enabled")
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "repository_limit"
    assert sent == [r.pk for r in repositories[:3]]
    disabled = admin_client.post(f"{base(workspace)}/repositories/{repositories[0].pk}/disable/")
    assert disabled.json()["enabled"] is False
    assert admin_client.post(f"{base(workspace)}/repositories/{repositories[3].pk}/enable/").status_code == 200


def test_members_cannot_enable_but_can_read(workspace) -> None:
    repository = make_repository(workspace)
    client = token_client(workspace, add_member(workspace, Role.MEMBER).user)
    assert client.get(f"{base(workspace)}/repositories/{repository.pk}/").status_code == 200
    assert client.post(f"{base(workspace)}/repositories/{repository.pk}/enable/").status_code == 403


def test_dashboard_review_settings_are_validated_and_saved(workspace, admin_client) -> None:
    repository = make_repository(workspace)
    url = f"{base(workspace)}/repositories/{repository.pk}/"
    ok = admin_client.patch(url, {"review_settings": {"review_drafts": True, "min_severity": "high"}}, format="json")
    assert ok.status_code == 200 and ok.json()["review_settings"] == {"review_drafts": True, "min_severity": "high"}
    bad = admin_client.patch(url, {"review_settings": {"nonsense": 1, "max_findings": "ten"}}, format="json")
    assert bad.status_code == 400
    assert Repository.objects.get(pk=repository.pk).review_settings == {"review_drafts": True, "min_severity": "high"}


def test_deliveries_list_without_payload_and_detail_with_it(workspace, admin_client) -> None:
    delivery = make_webhook_delivery(workspace)
    listed = admin_client.get(f"{base(workspace)}/webhook-deliveries/").json()["results"]
    assert [d["delivery_id"] for d in listed] == [delivery.delivery_id] and "payload" not in listed[0]
    detail = admin_client.get(f"{base(workspace)}/webhook-deliveries/{delivery.pk}/").json()
    assert detail["payload"] == {"zen": "Keep it logically awesome."}
    viewer = token_client(workspace, add_member(workspace, Role.VIEWER).user)
    assert viewer.get(f"{base(workspace)}/webhook-deliveries/").status_code == 403
