"""Webhook intake under load (issue 8): gunicorn serving POST /webhooks/github.

Three endpoints are served by the same gunicorn (production config, `WEB_CONCURRENCY` sync
workers, persistent database connections), against PostgreSQL and Redis, each loaded for
`BENCH_INTAKE_SECONDS` (15) by a separate load-generator process with a real 28 KB
`pull_request.opened` payload, correctly signed, with a unique delivery id per request:

1. `/bench/bare`   - signature check only (baseline);
2. `/bench/floor`  - signature check + one INSERT + one LPUSH (the floor of a durable intake);
3. `/webhooks/github` - the real intake (signature, headers, JSON check, INSERT ... ON CONFLICT,
   ProcessWebhookEvent enqueued on `webhooks`).

Prints requests/s, p50 and p99 for each, the intake's ratios to both baselines, and the intake's
p99 in an open-loop run at half its peak rate. Targets: >= 0.8x the floor; p99 < 50 ms at half peak.
Run by `make bench` (bin/bench): DATABASE_URL (created if missing) and REDIS_URL come from there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.database import require_postgresql  # noqa: E402

PAYLOAD = ROOT / "tests" / "fixtures" / "github" / "webhooks" / "pull_request" / "opened.payload.json"
SECRET = "bench-webhook-secret"  # noqa: S105 - benchmark only
DURATION = float(os.environ.get("BENCH_INTAKE_SECONDS", "15"))
CONCURRENCY = int(os.environ.get("BENCH_INTAKE_CONCURRENCY", "16"))
WARMUP = 2.0


# --- load generator (runs as its own process) ------------------------------------------------------


async def _one(host: str, port: int, path: str, body: bytes, signature: str, delivery: str) -> int:
    """POST one delivery on a new connection (as GitHub does) and return the HTTP status."""
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {delivery}\r\n"
        f"X-Hub-Signature-256: {signature}\r\nUser-Agent: GitHub-Hookshot/bench\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1]) if status_line else 0


class _Load:
    """One load run: the signed real payload, sent to one URL, and the tally of the answers."""

    def __init__(self, url: str) -> None:
        from integrations.github.signatures import sign

        self.target = urlparse(url)
        self.body = PAYLOAD.read_bytes()
        self.signature = sign(SECRET, self.body)
        self.latencies: list[float] = []
        self.errors = 0

    async def send(self, delivery: str, *, since: float | None = None) -> None:
        """One delivery; its latency counts from `since` (an open loop's scheduled time) or from now."""
        started = time.perf_counter() if since is None else since
        try:
            status = await _one(self.target.hostname, self.target.port, self.target.path, self.body, self.signature,
                                   delivery)
        except OSError:
            self.errors += 1
            return
        if status == 202:
            self.latencies.append(time.perf_counter() - started)
        else:
            self.errors += 1

    def result(self, started: float) -> dict:
        return {"latencies": self.latencies, "errors": self.errors, "elapsed": time.perf_counter() - started}


async def _closed_loop(url: str, seconds: float, concurrency: int, prefix: str) -> dict:
    load = _Load(url)
    counter = 0
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            await load.send(f"{prefix}-{n}-{counter}")

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return load.result(started)


async def _open_loop(url: str, seconds: float, rate: float, prefix: str) -> dict:
    """Send at a fixed rate regardless of answers; latency counts from the scheduled send time."""
    load = _Load(url)
    start = time.perf_counter() + 0.05

    async def fire(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        await load.send(f"{prefix}-{i}", since=scheduled)

    await asyncio.gather(*(fire(i) for i in range(int(seconds * rate))))
    return load.result(start)


def load_main(argv: list[str]) -> None:
    mode, url, seconds, value, prefix = argv
    if mode == "closed":
        result = asyncio.run(_closed_loop(url, float(seconds), int(value), prefix))
    else:
        result = asyncio.run(_open_loop(url, float(seconds), float(value), prefix))
    json.dump(result, sys.stdout)


# --- orchestration ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_load(mode: str, url: str, seconds: float, value: float, prefix: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--load", mode, url, str(seconds), str(value), prefix],
        cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ.copy(),
    )
    return json.loads(out.stdout)


def summarize(result: dict) -> dict:
    latencies = sorted(result["latencies"])
    if not latencies:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": result["errors"], "n": 0}
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "rps": len(latencies) / result["elapsed"],
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "errors": result["errors"],
        "n": len(latencies),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel.settings")
    os.environ["GITHUB_WEBHOOK_SECRET"] = SECRET
    os.environ.setdefault("DEBUG", "0")
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ.setdefault("CONN_MAX_AGE", "60")
    require_postgresql("bench_webhook_intake")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.intake_site import FLOOR_LIST, FLOOR_TABLE
    from integrations.models import WebhookDelivery
    from queues.connection import get_redis, get_rq_queue
    from queues.topology import Queue

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, delivery_id varchar(128) NOT NULL, "
            "payload jsonb, received_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute(f"TRUNCATE {FLOOR_TABLE}")
    WebhookDelivery.objects.filter(delivery_id__startswith="bench-").delete()
    connection.close()

    port = free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    web = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "bench.intake_wsgi:application", "-c", "sentinel/gunicorn.conf.py",
         "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        targets = [("bare (signature only)", "/bench/bare"), ("floor (INSERT + LPUSH)", "/bench/floor"),
                   ("intake /webhooks/github", "/webhooks/github")]
        results = {}
        run_id = int(time.time())
        workers = env.get("WEB_CONCURRENCY", "2")
        print(f"gunicorn {workers} sync workers, CONN_MAX_AGE={os.environ['CONN_MAX_AGE']}, payload {PAYLOAD.stat().st_size} B, "
              f"{CONCURRENCY} connections, {DURATION:.0f} s per endpoint")
        for label, path in targets:
            run_load("closed", base + path, WARMUP, CONCURRENCY, f"bench-warm-{run_id}-{path.strip('/').replace('/', '-')}")
            results[label] = summarize(run_load("closed", base + path, DURATION, CONCURRENCY, f"bench-{run_id}-{path.strip('/').replace('/', '-')}"))
            r = results[label]
            print(f"  {label:<26} {r['rps']:8.1f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   errors {r['errors']}")
        intake = results["intake /webhooks/github"]
        floor = results["floor (INSERT + LPUSH)"]
        bare = results["bare (signature only)"]
        print(f"ratio intake / floor = {intake['rps'] / floor['rps']:.2f}x (target >= 0.80x)")
        print(f"ratio intake / bare  = {intake['rps'] / bare['rps']:.2f}x")
        half = intake["rps"] / 2
        steady = summarize(run_load("open", base + "/webhooks/github", DURATION, half, f"bench-half-{run_id}"))
        print(f"intake at half peak ({half:.0f} req/s, open loop): p50 {steady['p50']:.1f} ms, p99 {steady['p99']:.1f} ms "
              f"(target < 50 ms), errors {steady['errors']}")
        stored = WebhookDelivery.objects.filter(delivery_id__startswith=f"bench-{run_id}").count()
        print(f"check: {stored} intake deliveries stored in the measured run ({intake['n']} answered 202)")
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        # Leave nothing behind: the queued ProcessWebhookEvent jobs and the rows.
        get_rq_queue(Queue.WEBHOOKS).empty()
        get_redis().delete(FLOOR_LIST)
        WebhookDelivery.objects.filter(delivery_id__startswith="bench-").delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(sys.argv[2:])
    else:
        main()
