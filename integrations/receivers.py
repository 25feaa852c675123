"""Listeners of the integrations app: the job platform's word that one of our jobs failed for good.

A job that spends its retries (GitHub down for the whole backoff, the database away) leaves a
dead letter; without this its row would stay where the job left it: a command `running` for
ever, a delivery `received`, which the stranded-delivery sweep would re-queue every minute only
to dead-letter it again. Both end `failed` with the reason; operators re-process a delivery or
replay the dead letter from the console.
"""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger("integrations.receivers")

EXECUTE_COMMAND_JOB = "integrations.jobs.execute_command"
PROCESS_WEBHOOK_JOB = "integrations.jobs.process_webhook_event"


def job_dead_lettered(sender: Any, dead_letter: Any = None, **kwargs: Any) -> None:
    if dead_letter is None or dead_letter.job_name not in (EXECUTE_COMMAND_JOB, PROCESS_WEBHOOK_JOB):
        return
    entity_ids = (dead_letter.payload or {}).get("entity_ids", {})
    reason = f"the {dead_letter.job_name.rsplit('.', 1)[-1]} job failed after its retries: {dead_letter.error[:500]}"
    if dead_letter.job_name == EXECUTE_COMMAND_JOB and entity_ids.get("command_run_id") is not None:
        from integrations.services import fail_command_run

        if fail_command_run(command_run_id=int(entity_ids["command_run_id"]), reason=reason):
            log.warning("command.failed_by_dead_letter", command_run_id=entity_ids["command_run_id"],
                        dead_letter_id=dead_letter.pk)
    elif dead_letter.job_name == PROCESS_WEBHOOK_JOB and entity_ids.get("delivery_id") is not None:
        from integrations.services import fail_received_delivery

        if fail_received_delivery(delivery_pk=int(entity_ids["delivery_id"]), reason=reason):
            log.warning("webhook.failed_by_dead_letter", delivery_pk=entity_ids["delivery_id"],
                        dead_letter_id=dead_letter.pk)
