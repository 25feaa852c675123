"""structlog configuration shared by Django, gunicorn and rq workers.

Every log line is one JSON object with an ISO timestamp, level, logger, event and whatever the
current context bound through contextvars (correlation id, job id, workspace id...). Records from
the standard library (Django, gunicorn, rq) go through the same processors via ProcessorFormatter,
so nothing prints in another format. Sensitive values are masked by `mask_sensitive` wherever they
appear in an event, however deeply nested.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Mapping
from typing import Any

import structlog

MASK = "***"

# A key is sensitive when its lower-cased name contains one of these fragments.
SENSITIVE_FRAGMENTS: tuple[str, ...] = (
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "api_key",
    "apikey",
    "private_key",
    "cookie",
    "credential",
)
# ...or is exactly one of these (a bare "key" is sensitive; "idempotency_key" is not).
SENSITIVE_NAMES: frozenset[str] = frozenset({"key", "x-api-key", "x_api_key"})


def is_sensitive_key(name: object) -> bool:
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    return lowered in SENSITIVE_NAMES or any(fragment in lowered for fragment in SENSITIVE_FRAGMENTS)


def mask_value(value: Any) -> Any:
    """Return a copy of `value` with every sensitive key's value replaced by MASK."""
    if isinstance(value, Mapping):
        return {k: (MASK if is_sensitive_key(k) else mask_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value


def mask_sensitive(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask sensitive keys anywhere in the event."""
    return mask_value(event_dict)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_sensitive,
    ]


# Loggers that do not propagate to the root (their libraries install their own handlers).
OWN_HANDLER_LOGGERS = ("rq", "rq.worker", "gunicorn.error", "gunicorn.access", "django.server")


def json_formatter() -> logging.Formatter:
    """The formatter every handler uses: one JSON object per line."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=str),
        ],
        foreign_pre_chain=_shared_processors(),
    )


def configure_logging(level: str = "INFO") -> None:
    """Configure structlog and the standard library to print JSON lines on stderr."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": json_formatter}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
            "root": {"handlers": ["console"], "level": level},
            # rq and gunicorn install their own handlers; route them through ours instead.
            "loggers": {
                name: {"handlers": ["console"], "level": level, "propagate": False} for name in OWN_HANDLER_LOGGERS
            },
        }
    )
