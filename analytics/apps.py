from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from django.conf import settings

        # Connects the receivers of the reviews, billing and integrations signals.
        from analytics import receivers, reconciliation  # noqa: F401
        from queues.schedules import register_schedule

        # Runs whose events Redis lost (or never took) are re-ingested by the queues reconciler.
        reconciliation.register()

        # Incremental rollups (dirty days -> hour/day/week/month buckets) and the retention
        # clean-up, both on `bulk` (the jobs' declared queue). docs/analytics.md.
        register_schedule(
            "analytics.update_rollups", cron=settings.ANALYTICS_ROLLUP_CRON, job="analytics.jobs.update_rollups"
        )
        register_schedule(
            "analytics.purge_expired_events",
            cron=settings.ANALYTICS_RETENTION_CRON,
            job="analytics.jobs.purge_expired_events",
        )
