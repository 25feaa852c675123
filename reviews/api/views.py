"""Review runs and findings of a workspace: list, detail, cancel, re-run. Thin: shape and call services."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from reviews import services
from reviews.api import serializers as s
from reviews.models import Finding, ReviewRun, RunStatus, Trigger
from workspaces.api.base import WorkspaceScopedReadOnlyViewSet
from workspaces.api.filters import UtcIsoDateTimeFilter
from workspaces.models import Role


class ReviewRunFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=RunStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ReviewRun
        fields = ["repository", "pr_number", "status", "trigger", "head_sha"]


class ReviewRunViewSet(WorkspaceScopedReadOnlyViewSet):
    """Review runs. Filters: `repository`, `pr_number`, `status` (repeatable), `trigger`, `head_sha`,
    `created_after`, `created_before` (ISO 8601). Members cancel and re-run."""

    queryset = ReviewRun.objects.select_related("repository")
    serializer_class = s.ReviewRunSerializer
    filterset_class = ReviewRunFilter
    ordering_fields = ["created_at", "finished_at", "status"]
    ordering = ["-created_at", "-id"]
    action_roles = {"cancel": Role.MEMBER, "rerun": Role.MEMBER}

    def get_queryset(self) -> QuerySet[ReviewRun]:
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.select_related("result").prefetch_related("findings", "annotations")
        return queryset

    def get_serializer_class(self) -> type:
        return s.ReviewRunDetailSerializer if self.action in ("retrieve", "cancel") else s.ReviewRunSerializer

    def _actor(self, request: Request) -> str:
        return f"user:{request.user.pk}"

    @extend_schema(request=None, responses=s.ReviewRunDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        run = services.cancel_run(run=self.get_object(), actor=self._actor(request))
        return Response(s.ReviewRunDetailSerializer(self.get_queryset().get(pk=run.pk)).data)

    @extend_schema(request=None, responses={201: s.ReviewRunSerializer})
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        new_run = services.rerun(run=self.get_object(), actor=self._actor(request))
        return Response(s.ReviewRunSerializer(new_run).data, status=status.HTTP_201_CREATED)


class FindingFilter(django_filters.FilterSet):
    severity = django_filters.MultipleChoiceFilter(
        choices=[(v, v) for v in ("critical", "high", "medium", "low", "info")]
    )
    category = django_filters.CharFilter()
    repository = django_filters.NumberFilter(field_name="run__repository_id")
    pr_number = django_filters.NumberFilter(field_name="run__pr_number")

    class Meta:
        model = Finding
        fields = ["run", "severity", "category", "repository", "pr_number", "path"]


class FindingViewSet(WorkspaceScopedReadOnlyViewSet):
    """Findings of the workspace's runs. Filters: `severity` (repeatable), `category`, `run`,
    `repository`, `pr_number`, `path`."""

    queryset = Finding.objects.select_related("run")
    serializer_class = s.FindingSerializer
    filterset_class = FindingFilter
    ordering_fields = ["created_at", "severity", "path"]
    ordering = ["-created_at", "-id"]
