from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"

    def ready(self) -> None:
        from integrations.github.provider import GitHubProvider
        from integrations.source_control import local_git
        from integrations.source_control.registry import register_provider

        local_git.register()
        register_provider("github", GitHubProvider)

        from integrations import receivers
        from queues import signals as queue_signals
        from queues.schedules import register_schedule

        queue_signals.job_permanently_failed.connect(receivers.job_dead_lettered, dispatch_uid="integrations.dead_letter")

        # Repairs missed installation webhooks; minute 23 keeps it off the top of the hour.
        register_schedule("integrations.github_full_sync", cron="23 * * * *", job="integrations.jobs.sync_all_installations")
        # Deliveries stored while Redis lost their job (docs/github.md).
        register_schedule(
            "integrations.requeue_stranded_deliveries", cron="* * * * *", job="integrations.jobs.requeue_stranded_deliveries"
        )
