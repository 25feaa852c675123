"""Fixtures for the job platform's tests: real Redis (db from TEST_REDIS_URL), real PostgreSQL,
real worker processes started with `manage.py run_workers` (fast timings set through env)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

FAST_WORKER_ENV = {
    "SENTINEL_WORKER_MAINTENANCE_INTERVAL": "1",
    "SENTINEL_WORKER_JOB_MONITORING_INTERVAL": "1",
    "SENTINEL_WORKER_HEARTBEAT_GRACE": "1",
    "SENTINEL_SIMPLE_WORKER_HEARTBEAT_GRACE": "1",
    "SENTINEL_WORKER_TTL": "16",  # rq blocks for ttl-15 = 1 s, so maintenance runs every second
    "SENTINEL_PROGRESS_MIN_INTERVAL": "0.1",
}


def test_database_url() -> str:
    s = connection.settings_dict
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


class Workers:
    def __init__(self, tmp_path: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.tmp_path = tmp_path
        self.logs: list[Path] = []

    def start(
        self,
        queues: list[str],
        *,
        worker: str = "fork",
        burst: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"worker-{len(self.procs)}.log"
        self.logs.append(log_path)
        cmd = [sys.executable, "manage.py", "run_workers", "--queues", ",".join(queues), "--worker", worker]
        if burst:
            cmd.append("--burst")
        full_env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            **FAST_WORKER_ENV,
            **(env or {}),
        }
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Kill the worker and everything it started (work-horse, scheduler): a machine dying."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def workers(tmp_path: Path, redis_conn) -> Iterator[Workers]:
    manager = Workers(tmp_path)
    yield manager
    manager.stop_all()


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
