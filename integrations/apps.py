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
