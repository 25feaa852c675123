from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console's own pages: the operations dashboard and the audit log browser.

    Other apps' admins live in their own admin.py and use sentinel.admin_actions.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "console"
    verbose_name = "Operator console"
