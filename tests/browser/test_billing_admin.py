"""An operator reads the plan catalog and moves a workspace to another plan, in a real browser."""

from __future__ import annotations

import pytest

from billing.models import Subscription
from tests.billing.factories import workspace_on

pytestmark = pytest.mark.django_db(transaction=True)


def test_operator_sees_the_plan_catalog_and_moves_a_workspace(page, staff_login, screenshot):
    workspace = workspace_on("free")
    staff_login()
    page.goto("/admin/billing/planversion/")
    table = page.locator("#result_list").inner_text()
    for name in ("free", "pro", "team", "enterprise"):
        assert name in table
    assert "reviews-enterprise" in table and "unlimited" in table
    screenshot("billing-plan-catalog")

    page.goto("/admin/billing/subscription/")
    page.locator(f"input[name=_selected_action][value='{Subscription.objects.get(workspace=workspace).pk}']").check()
    page.select_option("select[name=action]", "move_to_team")
    page.click("button[name=index]")
    assert "team" in page.content()  # the confirmation page says what will happen
    screenshot("billing-move-plan-confirm")
    page.locator("textarea[name=console_reason], input[name=console_reason]").first.fill("annual contract")
    page.click("#console-confirm-submit")
    page.wait_for_url("**/admin/billing/subscription/**")
    assert Subscription.objects.get(workspace=workspace).plan == "team"
    screenshot("billing-subscriptions")
