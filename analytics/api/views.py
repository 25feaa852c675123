"""Analytics dashboard endpoints: thin views over `analytics.selectors` (rollups only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from analytics import selectors
from analytics.api import serializers as s
from analytics.models import Rollup
from workspaces.api.base import WorkspaceScopedMixin
from workspaces.exceptions import NotFoundError


class AnalyticsView(WorkspaceScopedMixin, generics.GenericAPIView):
    """Base: tenant resolution and role checks from `WorkspaceScopedMixin`; viewers may read."""

    queryset = Rollup.objects.all()  # the model these views read (scoped by the mixin)
    filter_backends: list[Any] = []
    pagination_class = None
    query_serializer_class: type[s.RangeQuerySerializer] = s.RangeQuerySerializer

    def query(self, request: Request) -> dict[str, Any]:
        params = self.query_serializer_class(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        repository_id = values.get("repository")
        if repository_id is not None and not selectors.repository_exists(
            workspace_id=self.workspace.pk, repository_id=repository_id
        ):
            raise NotFoundError("No such repository in this workspace.")
        return values


class OverviewView(AnalyticsView):
    """Totals of the range with the change against the previous range of the same length."""

    @extend_schema(parameters=[s.RangeQuerySerializer], responses=s.OverviewSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        q = self.query(request)
        data = selectors.overview(
            workspace_id=self.workspace.pk, date_range=q["date_range"], repository_id=q.get("repository")
        )
        return Response(s.OverviewSerializer(data).data)


class TimeSeriesView(AnalyticsView):
    """One metric per bucket (`interval`) over the range, zero-filled (ratios and percentiles: null)."""

    query_serializer_class = s.TimeSeriesQuerySerializer

    @extend_schema(parameters=[s.TimeSeriesQuerySerializer], responses=s.TimeSeriesSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        q = self.query(request)
        data = selectors.time_series(
            workspace_id=self.workspace.pk,
            metric=q["metric"],
            interval=q["interval"],
            date_range=q["date_range"],
            repository_id=q.get("repository"),
        )
        # Shaped by hand (the serializer documents it): DRF's field-by-field rendering of a year
        # of points costs more than the query.
        data["start"], data["end"] = data["start"].isoformat(), data["end"].isoformat()
        data["points"] = [
            {"bucket": p["bucket"].isoformat().replace("+00:00", "Z"), "value": p["value"]} for p in data["points"]
        ]
        return Response(data)


class TopRepositoriesView(AnalyticsView):
    """The workspace's repositories ranked by a measure over the range."""

    query_serializer_class = s.TopRepositoriesQuerySerializer

    @extend_schema(parameters=[s.TopRepositoriesQuerySerializer], responses=s.TopRepositoriesSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        q = self.query(request)
        rows = selectors.top_repositories(
            workspace_id=self.workspace.pk, date_range=q["date_range"], order_by=q["order_by"], limit=q["limit"]
        )
        data = {"start": q["date_range"].start, "end": q["date_range"].end, "order_by": q["order_by"], "repositories": rows}
        return Response(s.TopRepositoriesSerializer(data).data)


class FindingsBreakdownView(AnalyticsView):
    """Findings of the range by severity and by category."""

    @extend_schema(parameters=[s.RangeQuerySerializer], responses=s.FindingsBreakdownSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        q = self.query(request)
        data = selectors.findings_breakdown(
            workspace_id=self.workspace.pk, date_range=q["date_range"], repository_id=q.get("repository")
        )
        return Response(s.FindingsBreakdownSerializer(data).data)
