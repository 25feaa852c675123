"""The shared confirm-then-act-then-audit flow (sentinel.admin_actions), exercised on dead letters."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from queues.models import DeadLetter, DeadLetterEvent
from queues.testing import drain

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:queues_deadletter_changelist"


def post_action(client, action, pks, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}
    return client.post(reverse(CHANGELIST), data)


def test_bulk_replay_shows_a_summary_first_and_changes_nothing(client, superuser, recorded_dead_letters):
    letters = recorded_dead_letters(3, webhooks=1)
    client.force_login(superuser)
    response = post_action(client, "replay", [dl.pk for dl in letters], index="0")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Replay 4 of 4 dead letters" in body
    assert "By queue" in body and "default" in body and "webhooks" in body
    # Nothing happened yet: no status change, no audit entry.
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"pending"}
    assert not LogEntry.objects.exists()


@pytest.mark.django_db(transaction=True)  # real failures and a real worker run
def test_confirmed_bulk_replay_runs_the_jobs_and_writes_one_audit_entry_each(
    client, superuser, make_dead_letters, redis_conn
):
    letters = make_dead_letters(2)
    redis_conn.delete("console:broken")  # the operator fixed the cause
    client.force_login(superuser)
    response = post_action(
        client, "replay", [dl.pk for dl in letters], console_confirm="yes", console_reason="upstream back"
    )
    assert response.status_code == 302
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"replayed"}
    entries = LogEntry.objects.filter(user=superuser, action_flag=CHANGE).order_by("object_id")
    assert [int(e.object_id) for e in entries] == sorted(dl.pk for dl in letters)
    assert all(e.change_message.startswith("Replay: job ") for e in entries)
    assert all("reason: upstream back" in e.change_message for e in entries)
    events = DeadLetterEvent.objects.filter(action="replayed")
    assert {e.actor for e in events} == {"admin:root-op"}
    drain()
    assert sorted(x.decode() for x in redis_conn.lrange("console:ran", 0, -1)) == ["m0", "m1"]


def test_already_handled_rows_are_counted_as_skipped_and_left_alone(client, superuser, recorded_dead_letters):
    letters = recorded_dead_letters(3)
    client.force_login(superuser)
    post_action(client, "discard", [letters[0].pk], console_confirm="yes")
    response = post_action(client, "replay", [dl.pk for dl in letters], index="0")
    body = response.content.decode()
    assert "Replay 2 of 3 dead letters" in body
    assert "already discarded" in body
    post_action(client, "replay", [dl.pk for dl in letters], console_confirm="yes")
    statuses = dict(DeadLetter.objects.values_list("pk", "status"))
    assert statuses == {letters[0].pk: "discarded", letters[1].pk: "replayed", letters[2].pk: "replayed"}
    assert LogEntry.objects.filter(object_id=str(letters[0].pk)).count() == 1  # only the discard


def test_bulk_discard_is_superuser_only(client, staff_operator, superuser, recorded_dead_letters):
    letters = recorded_dead_letters(2)
    client.force_login(staff_operator)
    response = post_action(client, "discard", [dl.pk for dl in letters], console_confirm="yes")
    assert response.status_code == 302
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"pending"}
    assert not LogEntry.objects.exists()
    client.force_login(superuser)
    post_action(client, "discard", [dl.pk for dl in letters], console_confirm="yes")
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"discarded"}
    assert LogEntry.objects.filter(user=superuser).count() == 2


def test_staff_may_discard_a_single_dead_letter_from_its_page(client, staff_operator, recorded_dead_letters):
    (letter,) = recorded_dead_letters(1)
    client.force_login(staff_operator)
    page = client.get(reverse("admin:queues_deadletter_change", args=[letter.pk]))
    url = reverse("admin:queues_deadletter_console_action", args=[letter.pk, "discard"])
    assert url in page.content.decode()
    confirm = client.get(url)
    assert "Discard 1 of 1 dead letter" in confirm.content.decode()
    assert DeadLetter.objects.get().status == "pending"
    response = client.post(url, {"console_confirm": "yes", "console_reason": "duplicate"})
    assert response.status_code == 302
    letter.refresh_from_db()
    assert letter.status == "discarded"
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.change_message) == (
        staff_operator,
        str(letter.pk),
        "Discard: discarded — reason: duplicate",
    )


def test_non_staff_get_no_console_page(client, member, recorded_dead_letters):
    (letter,) = recorded_dead_letters(1)
    client.force_login(member)
    urls = [
        reverse(CHANGELIST),
        reverse("admin:queues_deadletter_change", args=[letter.pk]),
        reverse("admin:queues_deadletter_console_action", args=[letter.pk, "replay"]),
        reverse("admin:admin_logentry_changelist"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = client.post(
        reverse("admin:queues_deadletter_console_action", args=[letter.pk, "replay"]),
        {"console_confirm": "yes"},
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert DeadLetter.objects.get().status == "pending"


def test_dead_letter_pages_never_show_the_masked_secret(client, superuser, recorded_dead_letters):
    (letter,) = recorded_dead_letters(1)
    client.force_login(superuser)
    detail = client.get(reverse("admin:queues_deadletter_change", args=[letter.pk])).content.decode()
    assert "tok-should-be-masked" not in detail
    assert "upstream is down" in detail


def test_dead_letters_are_found_by_job_id_correlation_id_queue_and_workspace(
    client, superuser, recorded_dead_letters
):
    letters = recorded_dead_letters(2, workspace_id=77, webhooks=1)
    client.force_login(superuser)
    url = reverse(CHANGELIST)

    def found(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return response.context["cl"].result_count

    assert found(q=letters[0].job_id) == 1
    assert found(q=letters[0].correlation_id) == 1
    assert found(q="webhooks") == 1
    assert found(q="77") == 3
    assert found(queue="default") == 2
    assert found(workspace_id="77") == 3
    assert found(status="pending") == 3


def test_select_all_past_the_posted_id_limit_confirms_every_matching_row(
    client, superuser, recorded_dead_letters, monkeypatch
):
    import sentinel.admin_actions as admin_actions

    monkeypatch.setattr(admin_actions, "MAX_POSTED_IDS", 2)
    letters = recorded_dead_letters(3, webhooks=1)
    client.force_login(superuser)
    url = reverse(CHANGELIST) + "?queue=default"  # "select all" within a filter
    data = {"action": "discard", "_selected_action": [str(letters[0].pk)], "select_across": "1", "index": "0"}
    confirm = client.post(url, data).content.decode()
    assert "Discard 3 of 3 dead letters" in confirm
    assert 'name="select_across" value="1"' in confirm
    client.post(
        url,
        {
            "action": "discard",
            "_selected_action": [str(letters[0].pk)],
            "select_across": "1",
            "console_confirm": "yes",
        },
    )
    statuses = dict(DeadLetter.objects.values_list("queue", "status").distinct())
    assert statuses == {"default": "discarded", "webhooks": "pending"}
    assert LogEntry.objects.count() == 3
