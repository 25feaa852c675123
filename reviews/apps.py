from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reviews"

    def ready(self) -> None:
        from queues import signals as queue_signals
        from reviews import receivers, reconciliation, signals

        for name in ("run_completed", "run_failed", "run_skipped", "run_cancelled"):
            getattr(signals, name).connect(receivers.queue_annotations, dispatch_uid=f"reviews.annotations.{name}")
        queue_signals.job_progress.connect(receivers.mirror_progress, dispatch_uid="reviews.progress")
        queue_signals.job_cancelled.connect(receivers.job_was_cancelled, dispatch_uid="reviews.job_cancelled")
        queue_signals.job_permanently_failed.connect(receivers.job_dead_lettered, dispatch_uid="reviews.dead_letter")
        # Runs whose job Redis lost are re-dispatched by the queues reconciler (cron on `system`).
        reconciliation.register()
