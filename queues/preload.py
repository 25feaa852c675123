"""Imports done once in a worker's parent process, before it forks.

rq forks a work-horse per job, and the fork inherits the parent's imported modules. A module
first imported inside a job is imported again in every work-horse: `anthropic` alone costs about
3.6 s of CPU, so a BYOK review with it would pay that on every run. The parent therefore imports
every app's `jobs` module (the job functions rq resolves by dotted path) and the modules named in
`SENTINEL_WORKER_PRELOAD` (heavy SDKs; the list lives in settings because this app knows no
domain).
"""

from __future__ import annotations

import importlib

import structlog
from django.conf import settings
from django.utils.module_loading import autodiscover_modules

log = structlog.get_logger(__name__)


def preload() -> list[str]:
    """Import job modules and the configured extras; return the extras imported.

    A module that fails to import is logged and skipped: a missing optional SDK must not stop the
    worker from serving every other job (the job that needs it fails on its own, visibly).
    """
    autodiscover_modules("jobs")
    loaded = []
    for name in getattr(settings, "SENTINEL_WORKER_PRELOAD", ()) or ():
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report and go on; see docstring
            log.warning("worker.preload_failed", module=name, error=str(exc))
            continue
        loaded.append(name)
    return loaded
