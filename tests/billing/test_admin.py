"""The billing admin renders for operators, shows the plan catalog, and keeps records read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from billing import services
from billing.models import PlanVersion, StripeEvent, Subscription, UsageRecord
from tests.billing.factories import workspace_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("billing-admin", "admin@example.com", None)
    client = Client()
    client.force_login(user)
    return client


def test_every_billing_admin_page_renders(admin_client: Client) -> None:
    workspace = workspace_on("pro")
    record, _ = services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key="command:a")
    services.reserve_review_run(workspace_id=workspace.pk, repository_id=None, run_key="review_run:a")
    for model in ("planversion", "subscription", "usagerecord", "usagetotal", "quotacounter", "runreservation", "stripeevent"):
        response = admin_client.get(reverse(f"admin:billing_{model}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:billing_planversion_changelist")).content.decode()
    assert "reviews-enterprise" in page and "unlimited" in page
    sub = Subscription.objects.get(workspace=workspace)
    detail = admin_client.get(reverse("admin:billing_subscription_change", args=[sub.pk])).content.decode()
    assert "pro" in detail and "period totals" in detail
    assert admin_client.get(reverse("admin:billing_usagerecord_change", args=[record.pk])).status_code == 200
    assert admin_client.get(reverse("admin:billing_planversion_change", args=[PlanVersion.objects.first().pk])).status_code == 200


def test_ledger_is_read_only_in_the_admin(admin_client: Client) -> None:
    workspace = workspace_on("free")
    record, _ = services.record_usage(workspace_id=workspace.pk, metric="command", quantity=1, idempotency_key="command:b")
    assert admin_client.get(reverse("admin:billing_usagerecord_add")).status_code == 403
    response = admin_client.post(reverse("admin:billing_usagerecord_delete", args=[record.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert UsageRecord.objects.filter(pk=record.pk).exists()
    assert admin_client.get(reverse("admin:billing_stripeevent_add")).status_code == 403
    assert StripeEvent.objects.count() == 0


def test_move_plan_action_confirms_calls_the_service_and_skips_stripe_billed(admin_client: Client) -> None:
    from django.contrib.admin.models import LogEntry

    manual, billed = workspace_on("free"), workspace_on("free")
    Subscription.objects.filter(workspace=billed).update(stripe_subscription_id="sub_live", plan="pro")
    subs = [Subscription.objects.get(workspace=w) for w in (manual, billed)]
    url = reverse("admin:billing_subscription_changelist")
    data = {"action": "move_to_team", "_selected_action": [s.pk for s in subs]}
    confirm = admin_client.post(url, data)
    assert confirm.status_code == 200 and "billed by Stripe" in confirm.content.decode()
    assert Subscription.objects.get(pk=subs[0].pk).plan == "free"  # nothing before confirmation
    admin_client.post(url, {**data, "console_confirm": "yes", "console_reason": "enterprise contract"})
    assert Subscription.objects.get(pk=subs[0].pk).plan == "team"
    assert Subscription.objects.get(pk=subs[1].pk).plan == "pro"
    assert LogEntry.objects.filter(object_id=str(subs[0].pk)).exists()
