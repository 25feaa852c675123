import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_logs_in_to_the_admin(page, staff_login, screenshot):
    staff_login()
    assert page.locator("#site-name").inner_text() == "Sentinel operations"
    assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME")
    assert screenshot("admin-index").stat().st_size > 0


def test_non_staff_cannot_reach_the_admin(page, django_user_model):
    django_user_model.objects.create_user(username="member", password="member-pass-123")
    page.goto("/admin/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "member-pass-123")
    page.click("input[type=submit]")
    assert "/admin/login/" in page.url
    assert page.locator(".errornote").is_visible()
