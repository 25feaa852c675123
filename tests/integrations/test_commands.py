"""`@sentinel` comment commands: parsing, permission, plan limit, answers on the fake GitHub server."""

from __future__ import annotations

import pytest

from integrations import signals
from integrations.github import commands
from integrations.models import (
    CommandRun,
    CommandStatus,
    DeliveryStatus,
    Installation,
    PausedPullRequest,
    WebhookDelivery,
)
from queues.testing import drain
from queues.topology import Queue
from reviews.models import ReviewRun
from tests.integrations.conftest import comment_command, payload

REPO = "Codertocat/Hello-World"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


@pytest.mark.parametrize(
    ("body", "command", "arguments"),
    [
        ("@sentinel review", "review", ""),
        ("  @Sentinel re-review please", "review", "please"),
        ("@sentinel: summarise", "summarize", ""),
        ("@sentinel pause", "pause", ""),
        ("@sentinel resume", "resume", ""),
        ("@sentinel", "help", ""),
        ("@sentinel dance", "unknown", ""),
    ],
)
def test_parse_commands(body, command, arguments) -> None:
    parsed = commands.parse(body, mention="@sentinel")
    assert parsed is not None and parsed.command == command and parsed.arguments == arguments


@pytest.mark.parametrize("body", ["thanks @sentinel review", "@sentinelbot review", "", None, "> @sentinel review"])
def test_only_a_comment_that_starts_with_the_mention_is_a_command(body) -> None:
    assert commands.parse(body, mention="@sentinel") is None


pytestmark_db = pytest.mark.django_db(transaction=True)


def run_comment(deliveries, body: dict) -> WebhookDelivery:
    response = deliveries.post("issue_comment", body)
    assert response.status_code == 202
    drain([Queue.WEBHOOKS, Queue.SYNC, Queue.COMMANDS])
    return WebhookDelivery.objects.get(delivery_id=response.json()["delivery_id"])


@pytest.fixture
def installed(deliveries, fake_github, settings):
    settings.SENTINEL_REVIEW_DEBOUNCE_SECONDS = 0
    response = deliveries.post("installation", payload("installation/created"))
    assert response.status_code == 202
    drain([Queue.WEBHOOKS, Queue.SYNC])
    fake_github.add_pull(REPO, number=1, head_sha=HEAD)
    return fake_github


def answers(fake) -> list[str]:
    return [c["body"] for c in fake.repo(REPO).issue_comments.get(1, [])]


@pytestmark_db
def test_a_commenter_without_permission_gets_a_polite_refusal(deliveries, installed) -> None:
    sent = []
    signals.command_executed.connect(lambda **kw: sent.append(kw), weak=False, dispatch_uid="t-refusal")
    try:
        run_comment(deliveries, comment_command("@sentinel review", association="CONTRIBUTOR"))
    finally:
        signals.command_executed.disconnect(dispatch_uid="t-refusal")
    run = CommandRun.objects.get()
    assert run.status == CommandStatus.DENIED
    assert ReviewRun.objects.count() == 0
    (answer,) = answers(installed)
    assert "only repository owners, members and collaborators" in answer
    assert f"<!-- sentinel:command:{run.comment_id} -->" in answer
    assert sent and sent[0]["status"] == "denied" and sent[0]["command"] == "review"


@pytestmark_db
def test_review_by_a_member_starts_a_full_review_even_of_a_reviewed_sha(deliveries, installed) -> None:
    run_comment(deliveries, comment_command("@sentinel review", association="MEMBER", comment_id=111))
    run_comment(deliveries, comment_command("@sentinel re-review", association="OWNER", comment_id=222))
    assert list(CommandRun.objects.values_list("status", flat=True)) == ["completed", "completed"]
    runs = ReviewRun.objects.order_by("pk")
    assert [(r.trigger, r.head_sha) for r in runs] == [("command", HEAD), ("command", HEAD)]
    assert {c.review_run_id for c in CommandRun.objects.all()} == {r.pk for r in runs}
    assert all("starting a full review" in a for a in answers(installed))


@pytestmark_db
def test_a_redelivered_comment_does_nothing(deliveries, installed) -> None:
    body = comment_command("@sentinel help", comment_id=333)
    run_comment(deliveries, body)
    again = run_comment(deliveries, body)
    assert again.status == DeliveryStatus.IGNORED and "already received" in again.reason
    assert CommandRun.objects.count() == 1 and len(answers(installed)) == 1


@pytestmark_db
def test_pause_resume_and_help(deliveries, installed) -> None:
    run_comment(deliveries, comment_command("@sentinel pause", association="COLLABORATOR"))
    assert PausedPullRequest.objects.filter(pr_number=1).exists()
    run_comment(deliveries, comment_command("@sentinel resume"))
    assert not PausedPullRequest.objects.exists()
    run_comment(deliveries, comment_command("@sentinel dance"))
    texts = answers(installed)
    assert "paused" in texts[0] and "back on" in texts[1]
    assert "don't know the command `dance`" in texts[2] and "@sentinel review" in texts[2]


@pytestmark_db
def test_bot_comments_are_never_commands(deliveries, installed) -> None:
    delivery = run_comment(deliveries, comment_command("@sentinel review", user_type="Bot"))
    assert (delivery.status, delivery.reason) == (DeliveryStatus.IGNORED, "comment by a bot")
    assert CommandRun.objects.count() == 0 and answers(installed) == []


@pytestmark_db
def test_the_plans_command_limit_is_enforced(deliveries, installed) -> None:
    from billing import services as billing_services
    from billing.models import Metric
    from billing.selectors import plan_for

    workspace_id = Installation.objects.get().workspace_id
    limit = plan_for(workspace_id).commands_per_month
    for i in range(limit):
        billing_services.record_usage(workspace_id=workspace_id, metric=Metric.COMMAND, quantity=1, idempotency_key=f"t-cmd-{i}")
    run_comment(deliveries, comment_command("@sentinel help"))
    run = CommandRun.objects.get()
    assert run.status == CommandStatus.DENIED
    assert answers(installed)[0].startswith("**Sentinel**: ")
