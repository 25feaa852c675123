from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from billing import receivers
        from billing.catalog import sync_plan_catalog

        receivers.connect()
        post_migrate.connect(sync_plan_catalog, sender=self, dispatch_uid="billing.sync_plan_catalog")

        from billing import webhooks
        from queues import reconciler
        from queues.schedules import register_schedule

        # Daily at 03:17 UTC: re-sum recent usage periods into the rollup (docs/billing.md).
        register_schedule("billing.reconcile_usage", cron="17 3 * * *", job="billing.jobs.reconcile_billing")
        # Every minute (the platform's reconciler): Stripe events whose processing job Redis lost.
        reconciler.register(
            "billing.stripe_events",
            source=webhooks.unapplied_events,
            job_id=webhooks.processing_job_id,
            redispatch=webhooks.queue_processing,
        )
