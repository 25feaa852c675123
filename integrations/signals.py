"""Integration domain events, sent after the writing transaction commits.

- `repository_enabled`, `repository_disabled`: `repository` (`integrations.models.Repository`),
  `actor` (user or None).
- `installation_changed`: `installation`, `action` ("created", "deleted", "suspend", ...).
- `command_executed`: `workspace_id`, `repository_id`, `command` (e.g. "review"), `status`
  ("completed" | "failed" | "denied"), `command_run_id`.
- `provider_key_invalidated`: `workspace_id`, `provider`, `key_id` (an AI key failed auth).
"""

from django.dispatch import Signal

repository_enabled = Signal()
repository_disabled = Signal()
installation_changed = Signal()
command_executed = Signal()
provider_key_invalidated = Signal()
