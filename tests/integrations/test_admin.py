"""The operator console pages of the integrations models render, with their actions, for a superuser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from integrations import services
from integrations.models import CommandRun, Installation, PausedPullRequest, Repository, WebhookDelivery
from tests.integrations.tenant_factories import make_command_run, make_webhook_delivery
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("operator", "op@example.com", None)
    client = Client()
    client.force_login(user)
    return client


def test_changelists_and_change_pages_render(operator) -> None:
    workspace = make_workspace()
    run = make_command_run(workspace)
    delivery = make_webhook_delivery(workspace)
    services.pull_request_pause(repository=run.repository, pr_number=3, login="octocat")
    for model, obj in [
        (Installation, run.repository.installation), (Repository, run.repository), (WebhookDelivery, delivery),
        (CommandRun, run), (PausedPullRequest, PausedPullRequest.objects.get()),
    ]:
        base = f"/admin/integrations/{model._meta.model_name}/"
        listing = operator.get(base)
        assert listing.status_code == 200, model
        assert operator.get(f"{base}{obj.pk}/change/").status_code == 200, model
    page = operator.get("/admin/integrations/webhookdelivery/").content.decode()
    assert "Re-process" in page and delivery.delivery_id in page


def test_relinking_an_installation_moves_its_repositories(operator) -> None:
    run = make_command_run(make_workspace())
    installation = run.repository.installation
    target = make_workspace()
    response = operator.post(f"/admin/integrations/installation/{installation.pk}/change/", {
        "workspace": target.pk,
        "repositories-TOTAL_FORMS": "1", "repositories-INITIAL_FORMS": "1",
        "repositories-MIN_NUM_FORMS": "0", "repositories-MAX_NUM_FORMS": "1000",
        "repositories-0-id": run.repository.pk, "repositories-0-installation": installation.pk,
    })
    assert response.status_code == 302, response.content[:2000]
    assert Repository.objects.get(pk=run.repository.pk).workspace_id == target.pk
    assert Installation.objects.get(pk=installation.pk).workspace_id == target.pk
