"""The job platform's records in PostgreSQL: dead letters (with their audit trail) and idempotency keys."""

from __future__ import annotations

from django.db import models


class DeadLetter(models.Model):
    """A job that failed for the last time, with what is needed to replay it.

    `payload` is the envelope with sensitive keys masked (sentinel.logging.mask_value). Rows are
    changed only by queues.deadletters (replay/discard), which also write a DeadLetterEvent.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        REPLAYED = "replayed"
        DISCARDED = "discarded"

    job_id = models.CharField(max_length=255, db_index=True)
    job_name = models.CharField(max_length=255)
    queue = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    workspace_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    error = models.TextField()
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    replay_count = models.PositiveIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [models.Index(fields=["queue", "status", "failed_at"])]

    def __str__(self) -> str:
        return f"{self.job_name} {self.job_id} ({self.status})"


class DeadLetterEvent(models.Model):
    """Audit trail: who replayed or discarded a dead letter, when, and why."""

    class Action(models.TextChoices):
        REPLAYED = "replayed"
        DISCARDED = "discarded"

    dead_letter = models.ForeignKey(DeadLetter, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.CharField(max_length=255)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


class IdempotencyKey(models.Model):
    """A side effect that happened: inserted in the same transaction as the side effect's own rows."""

    key = models.CharField(max_length=255, unique=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
