"""The intake on SQLite, the embedded database of `make run`: the portable storage path.

The rest of the suite runs on PostgreSQL, where the intake stores a delivery with one
PostgreSQL-only statement; this runs a separate Django process on a throwaway SQLite file (the
settings are read once per process), migrates it and posts real signed deliveries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from integrations.github.signatures import sign
from integrations.models import WebhookDelivery

call_command("migrate", verbosity=0)

def post(body, delivery):
    response = Client().post("/webhooks/github", data=body, content_type="application/json", headers={
        "X-GitHub-Event": "installation", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign("sqlite-secret", body)})
    return response.status_code

statuses = [
    post(b'{"action": "created", "installation": {"id": 5}}', "new"),
    post(b'{"action": "created", "installation": {"id": 5}}', "new"),
    post(b'[1, 2]', "array"),
    post(b'{"action": ', "cut-short"),
]
rows = list(WebhookDelivery.objects.order_by("id").values_list("delivery_id", "status", "action", "installation_id"))
json.dump({"statuses": statuses, "rows": rows}, sys.stdout)
"""


def test_make_runs_sqlite_stores_deliveries_through_the_portable_path(tmp_path, clean_redis) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sentinel.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'intake.sqlite3'}",
        "REDIS_URL": settings.REDIS_URL,
        "GITHUB_WEBHOOK_SECRET": "sqlite-secret",
        "SECRET_KEY": "test-only",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "CRITICAL",
    }
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["statuses"] == [202, 200, 400, 400]
    assert result["rows"] == [
        ["new", "received", "", None],  # action and installation id: filled in by routing
        ["array", "rejected", "", None],
        ["cut-short", "rejected", "", None],
    ]
    assert clean_redis.llen("rq:queue:webhooks") == 1  # the one new delivery's job
