from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Connects the receivers of the reviews, billing and integrations signals.
        from analytics import receivers  # noqa: F401
