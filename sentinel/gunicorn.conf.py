"""gunicorn settings, all overridable by environment (GUNICORN_CMD_ARGS works too)."""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Access and error logs go through Django's logging config (structlog JSON lines).
accesslog = "-"
errorlog = "-"
logconfig_dict = {"version": 1, "disable_existing_loggers": False}
