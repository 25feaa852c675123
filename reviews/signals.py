"""Review-run domain events. Other apps (billing, analytics, notifications) listen in their
`receivers.py`; this app never imports them.

Every signal is sent with `sender=ReviewRun` after the transition's transaction commits
(`transaction.on_commit`), so receivers may dispatch jobs and never see a rolled-back state.

Keyword arguments:
- `run_created`, `run_started`, `run_completed`, `run_failed`, `run_skipped`, `run_cancelled`:
  `run` (the `reviews.models.ReviewRun` in its new state).
- `finding_reported`: `run`, `findings` (list of `reviews.models.Finding` stored by that run).
- `annotation_posted`: `run`, `annotation` (the `reviews.models.Annotation` just posted).
- `briefing_posted`: `workspace_id`, `briefing_id`.
"""

from django.dispatch import Signal

run_created = Signal()
run_started = Signal()
run_completed = Signal()
run_failed = Signal()
run_skipped = Signal()
run_cancelled = Signal()
finding_reported = Signal()
annotation_posted = Signal()
briefing_posted = Signal()
