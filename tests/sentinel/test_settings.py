"""Settings come from the environment, with production-safe defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS, "
    "'db': settings.DATABASES['default']['ENGINE'], 'db_name': settings.DATABASES['default']['NAME'], "
    "'redis': settings.REDIS_URL, 'rq_url': settings.RQ_QUEUES['webhooks']['URL'], "
    "'provider': settings.SENTINEL_DEFAULT_AI_PROVIDER, 'github_api': settings.GITHUB_API_URL, "
    "'conn_max_age': settings.DATABASES['default']['CONN_MAX_AGE']}))"
)


def _run(code: str, extra_env: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra_env)
    env["DJANGO_SETTINGS_MODULE"] = "sentinel.settings"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_settings_are_read_from_the_environment():
    result = _run(
        PRINT_SETTINGS,
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 60,
            "ALLOWED_HOSTS": "sentinel.example.com,api.example.com",
            "DATABASE_URL": "postgres://u:p@db.example.com:5433/sentinel_prod",
            "REDIS_URL": "redis://cache.example.com:6380/3",
            "SENTINEL_DEFAULT_AI_PROVIDER": "openai",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3",
        },
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "debug": False,
        "hosts": ["sentinel.example.com", "api.example.com"],
        "db": "django.db.backends.postgresql",
        "db_name": "sentinel_prod",
        "redis": "redis://cache.example.com:6380/3",
        "rq_url": "redis://cache.example.com:6380/3",
        "provider": "openai",
        "github_api": "https://ghe.example.com/api/v3",
        "conn_max_age": 60,
    }


def test_defaults_are_embedded_and_debug_is_off(tmp_path):
    result = _run(
        PRINT_SETTINGS,
        {"SECRET_KEY": "x" * 60},
        drop=("DEBUG", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SENTINEL_DEFAULT_AI_PROVIDER"),
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    assert values["hosts"] == []
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["db_name"].endswith("var/sentinel.sqlite3")
    assert values["redis"].startswith("unix://") and values["redis"].endswith("var/redis.sock")
    assert values["provider"] == "offline"


def test_missing_secret_key_refuses_to_start_without_debug():
    result = _run(PRINT_SETTINGS, {"DEBUG": "0"}, drop=("SECRET_KEY",))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_with_production_variables():
    dev_only = ("DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dev_only}
    env.update(
        {
            "SECRET_KEY": "k3y-" + "q8Zr!v2#Lm9@pX4$wT7^bN1&cJ6*hF5(yD0)sG3_eK8+aU2" * 2,
            "ALLOWED_HOSTS": "sentinel.example.com",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": os.environ["REDIS_URL"],
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
