"""A worker's parent imports job modules and the configured SDKs once, before forking."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.test import override_settings

from queues.preload import preload

PROBE = """
import json, sys, django
django.setup()
before = {m: m in sys.modules for m in ("reviews.jobs", "billing.jobs", "tabnanny")}
from queues.preload import preload
loaded = preload()
after = {m: m in sys.modules for m in ("reviews.jobs", "billing.jobs", "tabnanny")}
print(json.dumps({"before": before, "after": after, "loaded": loaded}))
"""


def test_preload_in_a_fresh_process_imports_job_modules_and_the_configured_extras() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sentinel.settings", "SENTINEL_WORKER_PRELOAD": "tabnanny"}
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["before"] == {"reviews.jobs": False, "billing.jobs": False, "tabnanny": False}
    assert result["after"] == {"reviews.jobs": True, "billing.jobs": True, "tabnanny": True}
    assert result["loaded"] == ["tabnanny"]


def test_a_module_that_fails_to_import_is_skipped_not_fatal(log_records) -> None:
    with override_settings(SENTINEL_WORKER_PRELOAD=["no_such_sdk_module", "tabnanny"]):
        assert preload() == ["tabnanny"]
    failures = [r for r in log_records() if r.get("event") == "worker.preload_failed"]
    assert [r["module"] for r in failures] == ["no_such_sdk_module"]
