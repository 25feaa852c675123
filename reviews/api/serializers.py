"""Shapes of review runs and findings in the API. Read-only: writes go through reviews.services."""

from __future__ import annotations

from rest_framework import serializers

from reviews.models import Annotation, Finding, ReviewResult, ReviewRun


class FindingSerializer(serializers.ModelSerializer):
    repository = serializers.IntegerField(source="run.repository_id", read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id", "run", "repository", "path", "start_line", "end_line", "severity", "category", "title", "body",
            "suggestion", "confidence", "fingerprint", "created_at",
        ]
        read_only_fields = fields


class ReviewResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewResult
        fields = ["summary", "risk_level", "findings_count", "counts_by_severity", "walkthrough", "repeated_findings"]
        read_only_fields = fields


class AnnotationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = ["id", "kind", "finding", "state", "external_id", "url", "posted_at"]
        read_only_fields = fields


RUN_FIELDS = [
    "id", "repository", "repository_name", "pr_number", "base_sha", "head_sha", "trigger", "status", "skip_reason",
    "skip_message", "queue", "provider", "model", "byok", "input_tokens", "output_tokens", "cost_microusd",
    "progress", "progress_step", "review_mode", "queued_at", "started_at", "finished_at", "error_code",
    "error_message", "correlation_id", "rerun_of", "superseded_by", "created_at",
]


class ReviewRunSerializer(serializers.ModelSerializer):
    repository_name = serializers.CharField(source="repository.full_name", read_only=True)

    class Meta:
        model = ReviewRun
        fields = RUN_FIELDS
        read_only_fields = fields


class ReviewRunDetailSerializer(ReviewRunSerializer):
    result = ReviewResultSerializer(read_only=True, allow_null=True)
    findings = FindingSerializer(many=True, read_only=True)
    annotations = AnnotationSerializer(many=True, read_only=True)

    class Meta:
        model = ReviewRun
        fields = [
            *RUN_FIELDS, "coverage", "diff_base_sha", "policy_version", "policy_snapshot", "config_errors",
            "pull_request", "attempts", "result", "findings", "annotations",
        ]
        read_only_fields = fields
