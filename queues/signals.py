"""Events of the job platform. Receivers record or queue work; nothing slow inline."""

from django.dispatch import Signal

# A job failed for the last time. kwargs: dead_letter (queues.models.DeadLetter). Sent after commit.
job_permanently_failed = Signal()

# A queue's oldest waiting job waited longer than the queue's SLA.
# kwargs: queue (Queue), oldest_wait_seconds (float), sla_seconds (int).
queue_sla_breached = Signal()

# A running job reported progress (sent inside the job's process; keep receivers quick).
# kwargs: job_id (str), job_name (str), envelope (Envelope), percent (int), step (str).
job_progress = Signal()

# Someone cancelled a job. kwargs: job_id (str), job_name (str | None), envelope (Envelope | None),
# was_running (bool). The domain marks its entity `cancelled`.
job_cancelled = Signal()
