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
