"""Domain events of the workspaces app.

`workspace_created` is sent inside the transaction that creates the workspace (after its owner
membership exists), so a receiver's database writes — billing creating the subscription for
`plan` — commit or roll back together with the workspace. Receivers must do database work only
and queue anything slow with `transaction.on_commit`.

    workspace_created.send(sender=Workspace, workspace=workspace, plan="free", created_by=user)

`plan` is one of `workspaces.services.PLAN_NAMES`; the billing app owns what the names mean.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: workspace (Workspace), plan (str), created_by (User | None)
workspace_created = Signal()

# kwargs: membership (Membership), actor (User | None)
member_added = Signal()
# kwargs: workspace (Workspace), user (User), actor (User | None)
member_removed = Signal()
# kwargs: membership (Membership), old_role (str), actor (User | None)
member_role_changed = Signal()
