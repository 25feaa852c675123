"""`manage.py run_workers [--pool NAME]`: start the worker pools declared in queues/pools.py.

Without --pool, one child process per pool (each `run_workers --pool NAME`), restarted if it dies;
SIGTERM/SIGINT is passed on and each worker finishes its current job first (warm shutdown).
`--queues a,b --processes N --worker fork|simple` runs an ad-hoc pool (tests, one-off drains).
Every worker runs rq's scheduler (delayed retries, `delay=` dispatches).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from rq.worker_pool import WorkerPool

from queues.connection import SentinelJob, get_redis
from queues.pools import FORK, POOLS, SIMPLE, Pool
from queues.preload import preload
from queues.topology import Queue


class Command(BaseCommand):
    help = "Run Sentinel's rq worker pools (all, or one with --pool)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--pool", choices=sorted(POOLS), help="run only this pool")
        parser.add_argument("--queues", help="ad-hoc pool: comma-separated queue names (priority order)")
        parser.add_argument("--processes", type=int, help="override the pool's process count")
        parser.add_argument("--worker", choices=[FORK, SIMPLE], default=FORK, help="ad-hoc pool worker kind")
        parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
        parser.add_argument("--name", help="worker name (single-process pools)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["queues"]:
            names = [n.strip() for n in options["queues"].split(",") if n.strip()]
            try:
                queues = tuple(Queue.from_name(n) for n in names)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            pool = Pool("adhoc", queues, options["processes"] or 1, options["worker"])
            self.run_pool(pool, options["processes"] or 1, burst=options["burst"], name=options["name"])
        elif options["pool"]:
            pool = POOLS[options["pool"]]
            self.run_pool(
                pool, options["processes"] or pool.processes, burst=options["burst"], name=options["name"]
            )
        else:
            self.supervise(burst=options["burst"])

    def run_pool(self, pool: Pool, processes: int, *, burst: bool, name: str | None) -> None:
        preload()  # once here, inherited by every forked worker and work-horse
        connections.close_all()  # nothing forked below may share a database socket
        connection = get_redis()
        if processes <= 1:
            # One worker in this process: rq's own SIGTERM handling gives the warm shutdown.
            worker = pool.worker_class(pool.queue_names, connection=connection, name=name)
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
            return
        worker_pool = WorkerPool(
            pool.queue_names,
            connection=connection,
            num_workers=processes,
            worker_class=pool.worker_class,
            job_class=SentinelJob,
        )
        worker_pool.start(burst=burst, logging_level="INFO")

    def supervise(self, *, burst: bool) -> None:
        """One child per pool; pass stop signals on; restart a child that dies (unless stopping)."""
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def spawn(name: str) -> None:
            cmd = [sys.executable, sys.argv[0], "run_workers", "--pool", name]
            if burst:
                cmd.append("--burst")
            children[name] = subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and script

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for name, pool in POOLS.items():
            if pool.processes > 0:
                spawn(name)
        while children:
            for name, child in list(children.items()):
                code = child.poll()
                if code is None:
                    continue
                del children[name]
                if not stopping and not burst:
                    self.stderr.write(f"pool {name} exited with {code}; restarting")
                    time.sleep(1)
                    spawn(name)
            time.sleep(0.5)
