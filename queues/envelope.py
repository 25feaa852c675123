"""The job envelope: what every job receives, and the only thing that travels through Redis.

It carries the tenant (`workspace_id`), the trace (`correlation_id`), the ids of the entities the
job works on and the immutable data it needs. Never whole rows, never secrets: the job fetches
fresh state by id (rules in docs/queues.md).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Envelope:
    schema_version: int
    workspace_id: int | None
    correlation_id: str
    entity_ids: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # The deterministic job id; also the idempotency key replay keeps.
    job_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        # Spelled out rather than dataclasses.asdict, which deep-copies recursively: this runs for
        # every queued job. The dicts are copied one level, as JSON-like ids and data need.
        return {
            "schema_version": self.schema_version,
            "workspace_id": self.workspace_id,
            "correlation_id": self.correlation_id,
            "entity_ids": dict(self.entity_ids),
            "data": copy.deepcopy(self.data) if self.data else {},
            "job_id": self.job_id,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Envelope:
        return cls(
            schema_version=int(raw["schema_version"]),
            workspace_id=raw.get("workspace_id"),
            correlation_id=raw.get("correlation_id") or "",
            entity_ids=dict(raw.get("entity_ids") or {}),
            data=dict(raw.get("data") or {}),
            job_id=raw.get("job_id") or "",
        )
