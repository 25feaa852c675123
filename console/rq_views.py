"""django-rq's dashboard under `/admin/rq/`, with its buttons that change Redis guarded and audited.

django-rq's views are staff-only, but its delete/requeue/empty/stop buttons bypass our services
(a requeued review job skips the run's state machine; an emptied queue strands rows the
reconciler must rebuild). They stay available for emergencies, like the console's destructive
bulk actions: superuser-only, and every use writes an admin `LogEntry` (Administration -> Log
entries) and an `admin.rq_action` log line. Reading (lists, job detail, confirmation pages) is
unchanged. django-rq's own hook, `get_admin_urlpatterns(view_wrapper=...)`, wraps the views.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import structlog
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from django_rq import views as rq_views
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

log = structlog.get_logger("console.rq")

# The views whose POST changes Redis. `confirm_action` only renders the confirmation page.
CHANGING_VIEWS = frozenset({
    rq_views.delete_job,
    rq_views.requeue_job_view,
    rq_views.enqueue_job,
    rq_views.stop_job,
    rq_views.clear_queue,
    rq_views.requeue_all,
    rq_views.delete_failed_jobs,
    rq_views.actions,
})


def _describe(view: Callable[..., Any], request: HttpRequest, kwargs: dict[str, Any]) -> str:
    parts = [f"django-rq {view.__name__}", f"queue index {kwargs.get('queue_index')}"]
    if kwargs.get("job_id"):
        parts.append(f"job {kwargs['job_id']}")
    if request.POST.get("action"):
        parts.append(f"action {request.POST['action']} on {len(request.POST.getlist('job_ids'))} job(s)")
    return ", ".join(parts)


def guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`view_wrapper` for django-rq: changing POSTs are superuser-only and audited."""
    if view not in CHANGING_VIEWS:
        return view

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        if not (request.user.is_active and request.user.is_superuser):
            log.warning("admin.rq_action_refused", view=view.__name__, user=request.user.get_username())
            raise PermissionDenied("Changing queues from the django-rq dashboard is for superusers; use the console actions.")
        response = view(request, *args, **kwargs)
        message = _describe(view, request, kwargs)
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=None,
            object_id=str(kwargs.get("job_id") or "")[:200] or None,
            object_repr=message[:200],
            action_flag=CHANGE,
            change_message=message,
        )
        log.warning("admin.rq_action", view=view.__name__, user=request.user.get_username(), detail=message,
                    status=response.status_code)
        return response

    return guarded


def urlpatterns() -> list[URLPattern]:
    return [*get_api_urlpatterns(), *get_admin_urlpatterns(view_wrapper=guard)]
