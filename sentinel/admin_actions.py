"""Operator actions in the admin: a confirmation page with a summary, then the service call, then an audit entry.

Every app's admin uses this for actions that change something (replay, re-run, cancel, re-process,
enable/disable, deactivate). Usage::

    from sentinel.admin_actions import ConsoleActionsMixin, console_action

    @admin.register(DeadLetter)
    class DeadLetterAdmin(ConsoleActionsMixin, admin.ModelAdmin):
        @console_action(
            label="Replay",
            summary_fields=("queue",),                      # counts per queue on the confirmation page
            skip_if=lambda dl: "discarded" if dl.status == "discarded" else None,
        )
        def replay(self, request, obj, note):
            job_id = replay_dead_letter(dead_letter=obj, actor=actor_for(request), note=note)
            return f"queued job {job_id} again"

Each decorated method becomes
- a changelist action (bulk: the selected rows, or every row with "select all"), and
- a button on the object's change page (single object: `<pk>/console/<name>/`),
both going through one confirmation page that says what will happen, with counts (how many run, how
many are skipped and why, and per-value counts of `summary_fields`). Only a POST with
`console_confirm=yes` performs anything.

After confirmation the method is called once per eligible object. Its return value (a short
sentence) is the outcome; raising an exception counts as a failure for that object and the others
still run. Every performed or failed object gets a Django admin `LogEntry` (CHANGE, message
"<label>: <outcome>", plus the operator's reason), which is the audit log of who did what (browse
it under Administration → Log entries), and a structured log line `admin.action`.

Permissions: the admin site itself is staff-only. An action needs the model's change permission
(from auth: a read-only admin that returns False from `has_change_permission` keeps its actions).
`destructive=True` actions on more than one object are superuser-only; `superuser_only=True`
actions are superuser-only whatever the count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import structlog
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

log = structlog.get_logger("sentinel.admin_actions")

CONFIRM_TEMPLATE = "admin/console/confirm_action.html"
CHANGE_FORM_TEMPLATE = "admin/console/change_form.html"
# The confirmation page lists at most this many objects by name (the counts cover all of them).
LISTED_OBJECTS = 100
MAX_POSTED_IDS = 900
# Returned by a skip_if callable: the reason an object is left out, or None to include it.
SkipReason = str | None


def actor_for(request: HttpRequest) -> str:
    """The `actor` string services record for an operator's action."""
    user = getattr(request, "user", None)
    username = user.get_username() if user is not None and user.is_authenticated else "anonymous"
    return f"admin:{username}"


@dataclass(frozen=True)
class ConsoleActionSpec:
    name: str
    label: str
    description: str
    destructive: bool = False
    superuser_only: bool = False
    ask_reason: bool = False
    reason_required: bool = False
    summary_fields: tuple[str, ...] = ()
    skip_if: Callable[[Any], SkipReason] | None = None
    # Shown on the change page as a button only when this returns True for the object.
    show_button: Callable[[Any], bool] | None = None
    # The method takes the list of eligible objects at once: `(self, request, objects, note) -> str`.
    batch: bool = False


@dataclass
class ActionOutcome:
    done: list[tuple[Model, str]] = field(default_factory=list)
    skipped: list[tuple[Model, str]] = field(default_factory=list)
    failed: list[tuple[Model, str]] = field(default_factory=list)


def console_action(
    *,
    label: str,
    description: str = "",
    destructive: bool = False,
    superuser_only: bool = False,
    ask_reason: bool = False,
    reason_required: bool = False,
    summary_fields: Iterable[str] = (),
    skip_if: Callable[[Any], SkipReason] | None = None,
    show_button: Callable[[Any], bool] | None = None,
    batch: bool = False,
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Declare a ModelAdmin method `(self, request, obj, note) -> str` as a confirmed, audited action.

    `label` is the verb ("Replay"); `description` is the paragraph on the confirmation page
    explaining what will happen. `skip_if(obj)` returns why an object is left out (or None).
    With `batch=True` the method is `(self, request, objects, note) -> str` and is called once
    with every eligible object (when the work is per group, e.g. one job per workspace).
    """

    def decorate(method: Callable[..., str]) -> Callable[..., str]:
        method.console_action = ConsoleActionSpec(  # type: ignore[attr-defined]
            name=method.__name__,
            label=label,
            description=description,
            destructive=destructive,
            superuser_only=superuser_only,
            ask_reason=ask_reason or reason_required,
            reason_required=reason_required,
            summary_fields=tuple(summary_fields),
            skip_if=skip_if,
            show_button=show_button,
            batch=batch,
        )
        return method

    return decorate


class ConsoleActionsMixin:
    """Adds the `@console_action` methods of a ModelAdmin as bulk actions and change-page buttons."""

    change_form_template = CHANGE_FORM_TEMPLATE

    # --- discovery -----------------------------------------------------------------------------
    def get_console_actions(self) -> list[ConsoleActionSpec]:
        specs = []
        for klass in type(self).__mro__:
            for attr in vars(klass).values():
                spec = getattr(attr, "console_action", None)
                if isinstance(spec, ConsoleActionSpec) and spec.name not in {s.name for s in specs}:
                    specs.append(spec)
        return specs

    def _spec(self, name: str) -> ConsoleActionSpec:
        for spec in self.get_console_actions():
            if spec.name == name:
                return spec
        raise KeyError(name)

    def has_console_permission(self, request: HttpRequest) -> bool:
        """The model's change permission from auth (not `has_change_permission`, which read-only admins
        turn off to hide the edit form: actions through services stay available there)."""
        opts = self.model._meta  # type: ignore[attr-defined]
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    def console_action_allowed(
        self, request: HttpRequest, spec: ConsoleActionSpec, count: int = 1
    ) -> str | None:
        """None when the user may run `spec` on `count` objects, else why not."""
        user = request.user
        if not (user.is_active and user.is_staff):
            return "Only staff can use the operator console."
        if not self.has_console_permission(request):
            return "You do not have permission to change these objects."
        if spec.superuser_only and not user.is_superuser:
            return f"Only superusers can {spec.label.lower()}."
        if spec.destructive and count > 1 and not user.is_superuser:
            return f"Only superusers can {spec.label.lower()} more than one object at a time."
        return None

    # --- bulk actions on the changelist ----------------------------------------------------------
    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        for spec in self.get_console_actions():
            if spec.superuser_only and not request.user.is_superuser:
                continue
            if not self.has_console_permission(request):
                continue
            actions[spec.name] = (
                self._bulk_action(spec),
                spec.name,
                f"{spec.label} selected %(verbose_name_plural)s",
            )
        return actions

    def _bulk_action(self, spec: ConsoleActionSpec) -> Callable[..., HttpResponse | None]:
        def action(
            modeladmin: ConsoleActionsMixin, request: HttpRequest, queryset: QuerySet
        ) -> HttpResponse | None:
            return modeladmin.run_console_action(request, spec, queryset, single=False)

        action.__name__ = spec.name
        return action

    # --- single object: <pk>/console/<name>/ -----------------------------------------------------
    def get_urls(self) -> list[Any]:
        opts = self.model._meta  # type: ignore[attr-defined]
        custom = [
            path(
                "<path:object_id>/console/<str:action_name>/",
                self.admin_site.admin_view(self.console_object_action_view),  # type: ignore[attr-defined]
                name=f"{opts.app_label}_{opts.model_name}_console_action",
            )
        ]
        return custom + super().get_urls()  # type: ignore[misc]

    def console_object_action_view(
        self, request: HttpRequest, object_id: str, action_name: str
    ) -> HttpResponse:
        try:
            spec = self._spec(action_name)
        except KeyError as exc:
            raise PermissionDenied(f"unknown action {action_name!r}") from exc
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if obj is None:
            raise PermissionDenied("no such object")
        queryset = self.get_queryset(request).filter(pk=obj.pk)  # type: ignore[attr-defined]
        response = self.run_console_action(request, spec, queryset, single=True)
        if response is not None:
            return response
        opts = self.model._meta  # type: ignore[attr-defined]
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])  # type: ignore[attr-defined]
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, object_id) if object_id else None  # type: ignore[attr-defined]
        buttons = []
        if obj is not None:
            opts = self.model._meta  # type: ignore[attr-defined]
            for spec in self.get_console_actions():
                if self.console_action_allowed(request, spec) is not None:
                    continue
                if spec.show_button is not None and not spec.show_button(obj):
                    continue
                if spec.skip_if is not None and spec.skip_if(obj):
                    continue
                url = reverse(
                    f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_console_action",  # type: ignore[attr-defined]
                    args=[obj.pk, spec.name],
                )
                buttons.append({"label": spec.label, "url": url, "destructive": spec.destructive})
        extra_context["console_buttons"] = buttons
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    # --- the shared flow -------------------------------------------------------------------------
    def run_console_action(
        self, request: HttpRequest, spec: ConsoleActionSpec, queryset: QuerySet, *, single: bool
    ) -> HttpResponse | None:
        """Show the confirmation page, or (POST with console_confirm=yes) perform and audit."""
        objects = list(queryset)
        refusal = self.console_action_allowed(request, spec, len(objects))
        if refusal:
            self.message_user(request, refusal, messages.ERROR)  # type: ignore[attr-defined]
            if single:
                raise PermissionDenied(refusal)
            return None
        eligible, skipped = self._partition(spec, objects)
        confirmed = request.method == "POST" and request.POST.get("console_confirm") == "yes"
        note = (request.POST.get("console_reason") or "").strip() if confirmed else ""
        if confirmed and spec.reason_required and not note:
            self.message_user(request, "A reason is required.", messages.ERROR)  # type: ignore[attr-defined]
            confirmed = False
        if not confirmed:
            return self._confirmation_page(request, spec, objects, eligible, skipped, single=single)
        outcome = self._perform(request, spec, eligible, note)
        outcome.skipped.extend(skipped)
        self._report(request, spec, outcome)
        return None

    def _partition(
        self, spec: ConsoleActionSpec, objects: list[Model]
    ) -> tuple[list[Model], list[tuple[Model, str]]]:
        eligible: list[Model] = []
        skipped: list[tuple[Model, str]] = []
        for obj in objects:
            reason = spec.skip_if(obj) if spec.skip_if is not None else None
            if reason:
                skipped.append((obj, reason))
            else:
                eligible.append(obj)
        return eligible, skipped

    def _perform(
        self, request: HttpRequest, spec: ConsoleActionSpec, objects: list[Model], note: str
    ) -> ActionOutcome:
        outcome = ActionOutcome()
        method = getattr(self, spec.name)
        opts = self.model._meta  # type: ignore[attr-defined]
        if spec.batch:
            return self._perform_batch(request, spec, objects, note)
        for obj in objects:
            pk = obj.pk  # a service that deletes the row clears obj.pk; the audit entry still names it
            try:
                result = method(request, obj, note) or "done"
            except Exception as exc:  # noqa: BLE001 - one object's failure must not stop the others
                error = f"{type(exc).__name__}: {exc}"
                outcome.failed.append((obj, error))
                message = f"{spec.label} failed: {error}"
                log.warning(
                    "admin.action_failed",
                    action=spec.name,
                    model=opts.label,
                    object_id=str(obj.pk),
                    actor=actor_for(request),
                    error=error[:500],
                )
            else:
                outcome.done.append((obj, result))
                message = f"{spec.label}: {result}"
                log.info(
                    "admin.action",
                    action=spec.name,
                    model=opts.label,
                    object_id=str(obj.pk),
                    actor=actor_for(request),
                )
            if note:
                message += f" — reason: {note}"
            if obj.pk is None:
                obj.pk = pk
            self.log_change(request, obj, message[:2000])  # type: ignore[attr-defined]
        return outcome

    def _perform_batch(
        self, request: HttpRequest, spec: ConsoleActionSpec, objects: list[Model], note: str
    ) -> ActionOutcome:
        """One call with every eligible object (e.g. one job per workspace); one audit entry per object."""
        outcome = ActionOutcome()
        opts = self.model._meta  # type: ignore[attr-defined]
        if not objects:
            return outcome
        try:
            result = getattr(self, spec.name)(request, objects, note) or "done"
        except Exception as exc:  # noqa: BLE001 - reported and audited like a per-object failure
            error = f"{type(exc).__name__}: {exc}"
            outcome.failed.extend((obj, error) for obj in objects)
            message = f"{spec.label} failed: {error}"
            log.warning("admin.action_failed", action=spec.name, model=opts.label, count=len(objects), error=error[:500])
        else:
            outcome.done.extend((obj, result) for obj in objects)
            message = f"{spec.label}: {result}"
            log.info("admin.action", action=spec.name, model=opts.label, count=len(objects), actor=actor_for(request))
        if note:
            message += f" — reason: {note}"
        LogEntry.objects.log_actions(
            user_id=request.user.pk, queryset=objects, action_flag=CHANGE, change_message=message[:2000]
        )
        return outcome

    def _report(self, request: HttpRequest, spec: ConsoleActionSpec, outcome: ActionOutcome) -> None:
        opts = self.model._meta  # type: ignore[attr-defined]
        noun = opts.verbose_name if len(outcome.done) == 1 else opts.verbose_name_plural
        parts = [f"{spec.label}: {len(outcome.done)} {noun} done"]
        if len(outcome.done) == 1:
            parts[0] += f" ({outcome.done[0][1]})"
        if outcome.skipped:
            reasons = Counter(reason for _, reason in outcome.skipped)
            parts.append("skipped " + ", ".join(f"{n} ({reason})" for reason, n in reasons.items()))
        level = messages.SUCCESS
        if outcome.failed:
            level = messages.ERROR if not outcome.done else messages.WARNING
            parts.append(
                f"{len(outcome.failed)} failed: " + "; ".join(f"{o.pk}: {e}" for o, e in outcome.failed[:5])
            )
        self.message_user(request, "; ".join(parts) + ".", level)  # type: ignore[attr-defined]

    def _confirmation_page(
        self,
        request: HttpRequest,
        spec: ConsoleActionSpec,
        objects: list[Model],
        eligible: list[Model],
        skipped: list[tuple[Model, str]],
        *,
        single: bool,
    ) -> HttpResponse:
        opts = self.model._meta  # type: ignore[attr-defined]
        breakdown = []
        for field_name in spec.summary_fields:
            counts = Counter(str(_field_value(obj, field_name)) for obj in eligible)
            try:
                title = capfirst(opts.get_field(field_name).verbose_name)
            except Exception:  # noqa: BLE001 - a summary field may be a property, not a model field
                title = capfirst(field_name.replace("_", " "))
            breakdown.append({"title": title, "rows": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))})
        skip_counts = sorted(Counter(reason for _, reason in skipped).items(), key=lambda kv: -kv[1])
        listed = [
            {"obj": obj, "url": self._change_url(obj), "skip": reason}
            for obj, reason in ([(o, None) for o in eligible] + skipped)[:LISTED_OBJECTS]
        ]
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"{spec.label}: are you sure?",
            "subtitle": None,
            "opts": opts,
            "app_label": opts.app_label,
            "spec": spec,
            "single": single,
            "objects": objects,
            "total": len(objects),
            "eligible_count": len(eligible),
            "skip_counts": skip_counts,
            "breakdown": breakdown,
            "listed": listed,
            "unlisted": max(0, len(objects) - LISTED_OBJECTS),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            # Past Django's DATA_UPLOAD_MAX_NUMBER_FIELDS a list of ids cannot be posted back: the
            # confirmation then re-selects "all rows matching the current filters" instead.
            "pks": [str(obj.pk) for obj in objects]
            if len(objects) <= MAX_POSTED_IDS
            else [str(objects[0].pk)],
            "select_across": len(objects) > MAX_POSTED_IDS,
            "cancel_url": self._change_url(objects[0])
            if single and objects
            else reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"),  # type: ignore[attr-defined]
        }
        request.current_app = self.admin_site.name  # type: ignore[attr-defined]
        return TemplateResponse(request, CONFIRM_TEMPLATE, context)

    def _change_url(self, obj: Model) -> str:
        opts = obj._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])  # type: ignore[attr-defined]


def admin_change_url(obj: Model) -> str:
    """The admin change page of `obj` (empty string when its model has no admin)."""
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def admin_changelist_url(model: type[Model], **params: Any) -> str:
    """The admin changelist of `model`, filtered by `params` (`q=` searches)."""
    opts = model._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(params)}" if params else url


def admin_link(url: str, text: Any) -> str:
    """An <a> for list_display/readonly fields; plain text when there is no page to link to."""
    if not url:
        return format_html("{}", text)
    return format_html('<a href="{}">{}</a>', url, text)


def _field_value(obj: Model, name: str) -> Any:
    value = getattr(obj, name, None)
    display = getattr(obj, f"get_{name}_display", None)
    if callable(display):
        return display()
    return "—" if value in (None, "") else value


__all__ = [
    "ActionOutcome",
    "ConsoleActionSpec",
    "ConsoleActionsMixin",
    "ReadOnlyAdminMixin",
    "actor_for",
    "admin_change_url",
    "admin_changelist_url",
    "admin_link",
    "console_action",
]


class ReadOnlyAdminMixin:
    """For append-only or external records: every field read-only, no add, no delete, no save button.

    Change permission is kept so that `@console_action`s (which need it) still work; the only way
    to change such a row from the admin is through an action that calls the owning service.
    """

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        declared = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        model_fields = [f.name for f in self.model._meta.fields]  # type: ignore[attr-defined]
        excluded = set(getattr(self, "exclude", None) or ())
        return declared + [name for name in model_fields if name not in declared and name not in excluded]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        raise PermissionDenied("read-only in the admin: use the actions")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
