"""Query validation and response shapes of the analytics dashboard API."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics import selectors
from analytics.models import Granularity

MAX_RANGE_DAYS = 731
_RANGE = re.compile(r"^(\d{1,3})d$")


class RangeQuerySerializer(serializers.Serializer):
    """A range of whole UTC days: `start`/`end` (end inclusive), or the last `range` days."""

    range = serializers.RegexField(
        _RANGE,
        required=False,
        default="30d",
        help_text="The last N UTC days up to today, e.g. `7d`, `30d`, `365d` (ignored when `start` is given).",
    )
    start = serializers.DateField(required=False, help_text="First UTC day of the range (inclusive).")
    end = serializers.DateField(required=False, help_text="Last UTC day of the range (inclusive); default today.")
    repository = serializers.IntegerField(
        required=False, min_value=1, help_text="Restrict to one repository of the workspace (id)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = timezone.now().astimezone(UTC).date()
        end = attrs.get("end") or today
        if attrs.get("start"):
            start = attrs["start"]
        else:
            days = int(_RANGE.match(attrs.get("range") or "30d").group(1))  # type: ignore[union-attr]  # validated by the field
            if days < 1:
                raise serializers.ValidationError({"range": ["The range must be at least 1d."]})
            start = end - timedelta(days=days - 1)
        if start > end:
            raise serializers.ValidationError({"start": ["start must not be after end."]})
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"start": [f"The range may span at most {MAX_RANGE_DAYS} days."]})
        attrs["date_range"] = selectors.DateRange(start, end)
        return attrs


class TimeSeriesQuerySerializer(RangeQuerySerializer):
    metric = serializers.ChoiceField(choices=selectors.SERIES_METRICS, default="runs_completed")
    interval = serializers.ChoiceField(
        choices=[str(g) for g in selectors.INTERVALS],
        default=str(Granularity.DAY),
        help_text="Bucket size (UTC). `hour` covers the last 48 hours only.",
    )


class TopRepositoriesQuerySerializer(RangeQuerySerializer):
    repository = None  # type: ignore[assignment]  # a ranking of repositories takes no repository filter
    order_by = serializers.ChoiceField(choices=selectors.TOP_REPOSITORY_ORDERS, default="runs_completed")
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A number passed through as it is: counters stay integers, ratios and percentiles floats."""

    def to_representation(self, value: Any) -> Any:
        return value


class MetricChangeSerializer(serializers.Serializer):
    value = NumberField(allow_null=True)
    previous = NumberField(allow_null=True)
    change = NumberField(allow_null=True)
    change_pct = serializers.FloatField(allow_null=True, help_text="Percent change vs the previous range; null when it was 0.")


class OverviewMetricsSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: MetricChangeSerializer() for name in selectors.OVERVIEW_METRICS}


class OverviewSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    previous_start = serializers.DateField()
    previous_end = serializers.DateField()
    repository_id = serializers.IntegerField(allow_null=True)
    metrics = OverviewMetricsSerializer()


class PointSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="Start of the UTC bucket.")
    value = NumberField(allow_null=True)


class TimeSeriesSerializer(serializers.Serializer):
    metric = serializers.CharField()
    interval = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    repository_id = serializers.IntegerField(allow_null=True)
    points = PointSerializer(many=True)


class TopRepositorySerializer(serializers.Serializer):
    repository_id = serializers.IntegerField()
    full_name = serializers.CharField(allow_null=True, help_text="Null once the repository was deleted.")
    runs_created = serializers.IntegerField()
    runs_completed = serializers.IntegerField()
    runs_failed = serializers.IntegerField()
    findings_total = serializers.IntegerField()
    cost_microusd = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    annotations_posted = serializers.IntegerField()
    duration_avg_ms = serializers.FloatField(allow_null=True)
    success_rate = serializers.FloatField(allow_null=True)


class TopRepositoriesSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    order_by = serializers.CharField()
    repositories = TopRepositorySerializer(many=True)


class FindingsBreakdownSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    repository_id = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField()
    by_severity = serializers.DictField(child=serializers.IntegerField())
    by_category = serializers.DictField(child=serializers.IntegerField())
