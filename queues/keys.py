"""Redis keys the platform's own processes write for each other (liveness, last runs).

Kept apart so health, scheduler and reconciler can share them without importing each other.
"""

# The scheduler process's heartbeat: epoch seconds of its last loop (expires when it stops).
SCHEDULER_HEARTBEAT = "sentinel:scheduler:heartbeat"
# A scheduler whose heartbeat is older than this many seconds is reported dead.
SCHEDULER_STALE_SECONDS = 30

# The reconciler's last run: JSON {"at": ISO, "checked": n, "redispatched": n, "errors": n}.
RECONCILER_LAST_RUN = "sentinel:reconciler:last_run"

# The SLA monitor's last verdict per queue: hash queue -> "1"/"0".
SLA_STATE = "sentinel:sla:breached"
