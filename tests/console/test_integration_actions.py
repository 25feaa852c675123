"""Repositories, webhook deliveries and installations in the console: service calls, confirmed and audited."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from integrations.models import DeliveryStatus, Repository, WebhookDelivery
from queues.testing import drain
from queues.topology import Queue
from tests.integrations.conftest import Deliveries, payload
from tests.reviews.factories import make_repository
from tests.workspaces.factories import make_workspace

pytestmark = pytest.mark.django_db


def post_action(client, model: str, action: str, pks, **extra):
    url = reverse(f"admin:integrations_{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": [str(p) for p in pks], **extra})


def test_enable_and_disable_repositories_through_the_service_with_audit(client, superuser, redis_conn):
    workspace = make_workspace()
    on = make_repository(workspace, enabled=True)
    off = make_repository(workspace, enabled=False)
    client.force_login(superuser)
    confirm = post_action(client, "repository", "enable", [on.pk, off.pk], index="0").content.decode()
    assert "Enable 1 of 2 repositor" in confirm and "already enabled" in confirm
    post_action(client, "repository", "enable", [on.pk, off.pk], console_confirm="yes")
    assert set(Repository.objects.values_list("enabled", flat=True)) == {True}
    post_action(
        client, "repository", "disable", [on.pk, off.pk], console_confirm="yes", console_reason="noisy"
    )
    assert set(Repository.objects.values_list("enabled", flat=True)) == {False}
    messages = sorted(LogEntry.objects.values_list("object_id", "change_message"))
    assert messages == sorted(
        [
            (str(off.pk), "Enable: enabled"),
            (str(on.pk), "Disable: disabled — reason: noisy"),
            (str(off.pk), "Disable: disabled — reason: noisy"),
        ]
    )


@pytest.mark.django_db(transaction=True)  # the routing job runs in a real worker
def test_a_delivery_whose_job_was_lost_is_routed_after_reprocess(
    client, superuser, github_settings, redis_conn
):
    response = Deliveries(client).post("pull_request", payload("pull_request/opened"), delivery_id="lost-1")
    assert response.status_code in (200, 202)
    delivery = WebhookDelivery.objects.get(delivery_id="lost-1")
    assert delivery.status == DeliveryStatus.RECEIVED
    redis_conn.delete("rq:queue:webhooks")  # the routing job is lost (Redis restarted without persistence)
    drain([Queue.WEBHOOKS])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RECEIVED  # stuck

    client.force_login(superuser)
    url = reverse("admin:integrations_webhookdelivery_console_action", args=[delivery.pk, "reprocess"])
    assert "Re-process 1 of 1 webhook delivery" in client.get(url).content.decode()
    client.post(url, {"console_confirm": "yes"})
    drain([Queue.WEBHOOKS])
    delivery.refresh_from_db()
    assert delivery.status != DeliveryStatus.RECEIVED  # routed: processed or ignored with a reason
    entry = LogEntry.objects.get()
    assert entry.object_id == str(delivery.pk) and entry.change_message.startswith("Re-process: routing job ")
    # Routed deliveries are not offered again.
    confirm = post_action(client, "webhookdelivery", "reprocess", [delivery.pk], index="0").content.decode()
    assert "Re-process 0 of 1" in confirm and f"already {delivery.status}" in confirm


def test_delivery_page_links_its_trace(client, superuser, github_settings, redis_conn):
    Deliveries(client).post("pull_request", payload("pull_request/opened"), delivery_id="trace-1")
    delivery = WebhookDelivery.objects.get(delivery_id="trace-1")
    client.force_login(superuser)
    page = client.get(
        reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert f"/admin/operations/trace/?q={delivery.correlation_id}" in page
    trace = client.get("/admin/operations/trace/", {"q": delivery.correlation_id}).content.decode()
    assert reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk]) in trace


def test_deactivating_a_provider_key_deletes_it_through_the_service_and_never_shows_the_secret(
    client, superuser, staff_operator
):
    from django.contrib.auth.models import Permission

    from integrations.models import ProviderKey
    from tests.integrations.tenant_factories import make_provider_key

    workspace = make_workspace()
    key = make_provider_key(workspace)
    secret = key.reveal()
    client.force_login(superuser)
    page = client.get(reverse("admin:integrations_providerkey_change", args=[key.pk])).content.decode()
    assert secret not in page and key.encrypted_secret not in page and key.masked in page
    url = reverse("admin:integrations_providerkey_console_action", args=[key.pk, "deactivate"])
    confirm = client.get(url).content.decode()
    assert "Deactivate 1 of 1 provider key" in confirm and secret not in confirm
    # The reason is required: without it nothing happens.
    client.post(url, {"console_confirm": "yes"})
    assert ProviderKey.objects.filter(pk=key.pk).exists()
    client.post(url, {"console_confirm": "yes", "console_reason": "leaked in a public gist"})
    assert not ProviderKey.objects.filter(pk=key.pk).exists()
    entry = LogEntry.objects.get()
    assert entry.object_id == str(key.pk)
    assert entry.change_message == f"Deactivate: key {key.masked} deleted — reason: leaked in a public gist"
    assert secret not in entry.change_message + entry.object_repr
    # Bulk deactivation is superuser-only; Django's own delete (unaudited) is off.
    others = [make_provider_key(workspace), make_provider_key(workspace)]
    staff_operator.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="integrations", codename__endswith="providerkey")
    )
    client.force_login(staff_operator)
    post_action(
        client, "providerkey", "deactivate", [k.pk for k in others], console_confirm="yes", console_reason="x"
    )
    assert ProviderKey.objects.count() == 2
    assert (
        "delete_selected"
        not in client.get(reverse("admin:integrations_providerkey_changelist")).content.decode()
    )
