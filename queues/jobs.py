"""The platform's own cron jobs (queue `system`), fired by the schedules in queues.schedules.BUILTIN."""

from __future__ import annotations

from typing import Any

from queues import reconciler, sla
from queues.declaration import job
from queues.envelope import Envelope
from queues.retry import RetryPolicy
from queues.topology import Queue


# No retries: the next tick is a minute away and does the same work.
@job(queue=Queue.SYSTEM, retry=RetryPolicy.NONE, limit_concurrency=False, throttle=False)
def monitor_sla(envelope: Envelope) -> dict[str, Any]:
    breaches = sla.check()
    return {"breached": [b["queue"] for b in breaches]}


@job(queue=Queue.SYSTEM, retry=RetryPolicy.NONE, limit_concurrency=False, throttle=False)
def reconcile(envelope: Envelope) -> dict[str, Any]:
    result = reconciler.run()
    return {k: result[k] for k in ("checked", "redispatched", "errors")}
