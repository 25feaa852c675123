"""Filters shared by the workspace APIs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime, converted to UTC before it reaches a query.

    Python accepts UTC offsets up to ±24 h, PostgreSQL only up to ±15:59: passing the offset
    through made `created_after=...+19:46` a database error (a 500). In UTC, nothing is out of
    PostgreSQL's range; a moment that does not exist in UTC (year 1 with a positive offset) is a 400.
    """

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of the supported date range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
