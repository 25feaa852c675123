from __future__ import annotations

from rest_framework import serializers

from billing import plans


class UsageMetricSerializer(serializers.Serializer):
    used = serializers.IntegerField(help_text="Counted against the limit this period (runs include executing ones).")
    recorded = serializers.IntegerField(help_text="Metered in the usage ledger this period.")
    limit = serializers.IntegerField(allow_null=True, help_text="null = unlimited")
    remaining = serializers.IntegerField(allow_null=True, help_text="null = unlimited")


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class SubscriptionStateSerializer(serializers.Serializer):
    plan = serializers.CharField()
    status = serializers.CharField()
    effective_plan = serializers.CharField(help_text="The plan whose limits apply now (free while a paid plan is lapsed).")
    current_period_start = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    billed_by_stripe = serializers.BooleanField()


class HistorySerializer(serializers.Serializer):
    period_start = serializers.DateTimeField()
    totals = serializers.DictField(child=serializers.IntegerField())


class UsageSerializer(serializers.Serializer):
    plan = serializers.DictField(help_text="The effective plan's limits (null = unlimited).")
    subscription = SubscriptionStateSerializer()
    period = PeriodSerializer()
    usage = serializers.DictField(child=UsageMetricSerializer())
    history = HistorySerializer(many=True)


class CheckoutRequestSerializer(serializers.Serializer):
    plan = serializers.ChoiceField(choices=[p for p in plans.PLAN_NAMES if p != plans.FREE])


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.URLField()
