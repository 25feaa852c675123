"""Console-wide rules, checked over every registered admin so that late-landing apps are held to them:
every action is a confirmed, audited console action; no console page answers a non-staff user."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from sentinel.admin_actions import ConsoleActionsMixin

pytestmark = pytest.mark.django_db

# Django's own bulk delete has its confirmation page and writes DELETION log entries itself.
DJANGO_AUDITED = {"delete_selected"}


def test_every_admin_action_is_a_confirmed_audited_console_action(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    unaudited = []
    for model, model_admin in admin.site._registry.items():
        console = (
            {spec.name for spec in model_admin.get_console_actions()}
            if isinstance(model_admin, ConsoleActionsMixin)
            else set()
        )
        for name in model_admin.get_actions(request):
            if name not in console and name not in DJANGO_AUDITED:
                unaudited.append(f"{model._meta.label}.{name}")
    assert unaudited == [], "use sentinel.admin_actions.console_action for these"


def console_urls() -> list[str]:
    urls = [
        reverse("admin:index"),
        reverse("operations-dashboard"),
        reverse("operations-dashboard") + "?part=live",
        reverse("operations-trace") + "?q=x",
        reverse("django_rq:home"),
    ]
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[1]))
        if isinstance(admin.site._registry[model], ConsoleActionsMixin):
            for spec in admin.site._registry[model].get_console_actions():
                urls.append(
                    reverse(f"admin:{opts.app_label}_{opts.model_name}_console_action", args=[1, spec.name])
                )
    return urls


def test_no_console_page_answers_anonymous_or_non_staff_users(client, member):
    urls = console_urls()
    assert len(urls) > 40
    for who in ("anonymous", "member"):
        if who == "member":
            client.force_login(member)
        for url in urls:
            for response in (client.get(url), client.post(url, {"console_confirm": "yes"})):
                assert response.status_code == 302, (who, url, response.status_code)
                assert response["Location"].startswith("/admin/login/"), (who, url)
