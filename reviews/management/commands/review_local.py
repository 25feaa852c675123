"""`manage.py review_local --repo PATH --base REF --head REF [--workspace SLUG] [--wait] [--format text|json]`

Reviews the changes of `--head` against `--base` in a git repository on this machine, as a real
review run through the workers (the same flow as a GitHub pull request, with the local-git
provider). With `--wait` it prints the outcome when the run ends and its review is posted; the
exit status is 1 when the run failed or was cancelled, 2 on timeout, else 0.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.models import Repository, SourceProvider
from integrations.source_control.base import RepositoryRef
from integrations.source_control.registry import get_provider
from reviews import services
from reviews.models import AnnotationKind, AnnotationState, ReviewRun, RunStatus, Trigger
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Review a local git branch through the workers (local-git provider)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--repo", required=True, help="path of the git repository")
        parser.add_argument("--base", required=True, help="base ref (branch, tag or SHA)")
        parser.add_argument("--head", required=True, help="head ref (branch, tag or SHA)")
        parser.add_argument("--workspace", help="workspace slug (default: the only one, or `demo`)")
        parser.add_argument("--title", default="", help="title of the local pull request")
        parser.add_argument("--wait", action="store_true", help="wait for the outcome and print it")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits (default 300)")
        parser.add_argument("--again", action="store_true", help="re-run in full if this head was reviewed before")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["repo"]).expanduser().resolve()
        if not (path / ".git").exists() and not (path / "HEAD").exists():
            raise CommandError(f"{path} is not a git repository")
        workspace = self._workspace(options["workspace"])
        repository, _ = Repository.objects.get_or_create(
            workspace=workspace,
            provider=SourceProvider.LOCAL_GIT,
            full_name=f"local/{path.name}",
            defaults={"local_path": str(path), "default_branch": options["base"]},
        )
        if repository.local_path != str(path):
            repository.local_path = str(path)
            repository.save(update_fields=["local_path", "updated_at"])
        provider = get_provider(SourceProvider.LOCAL_GIT)
        ref = RepositoryRef(provider=SourceProvider.LOCAL_GIT, full_name=repository.full_name, local_path=str(path))
        try:
            pr = provider.open_pull_request(  # type: ignore[attr-defined]  # local-git only
                ref, base_ref=options["base"], head_ref=options["head"], title=options["title"]
            )
        except Exception as exc:  # noqa: BLE001 - shown to the user as a command error
            raise CommandError(f"cannot read {options['base']}..{options['head']}: {exc}") from exc
        run = services.request_review(
            repository=repository,
            pr_number=pr.number,
            base_sha=pr.base_sha,
            head_sha=pr.head_sha,
            trigger=Trigger.MANUAL,
            pull_request=pr,
        )
        if options["again"] and run.is_terminal:
            run = services.rerun(run=run, actor="cli:review_local")
        if options["format"] == "text":
            self.stdout.write(f"Review run {run.pk} for {repository.full_name} #{pr.number} "
                              f"({pr.base_sha[:7]}..{pr.head_sha[:7]}): {run.status}")
        if not options["wait"]:
            if options["format"] == "json":
                self.stdout.write(json.dumps({"run_id": run.pk, "status": run.status}))
            return
        run, finished = self._wait(run, options["timeout"])
        self._report(run, options["format"], provider, ref)
        if not finished:
            self.stderr.write(f"run {run.pk} did not finish within {options['timeout']:.0f}s (are the workers running?)")
            raise SystemExit(2)
        if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            raise SystemExit(1)

    def _workspace(self, slug: str | None) -> Workspace:
        if slug:
            try:
                return Workspace.objects.get(slug=slug)
            except Workspace.DoesNotExist:
                raise CommandError(f"no workspace {slug!r}") from None
        workspaces = list(Workspace.objects.order_by("pk")[:2])
        if len(workspaces) == 1:
            return workspaces[0]
        demo = Workspace.objects.filter(slug="demo").first()
        if demo is None:
            raise CommandError("give --workspace SLUG (create one with `manage.py create_workspace`)")
        return demo

    def _wait(self, run: ReviewRun, timeout: float) -> tuple[ReviewRun, bool]:
        """Until the run ended and its outcome is on the pull request (status posted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = ReviewRun.objects.select_related("repository").get(pk=run.pk)
            if run.is_terminal and run.annotations.filter(
                kind=AnnotationKind.STATUS, state=AnnotationState.POSTED
            ).exists():
                return run, True
            time.sleep(0.5)
        return ReviewRun.objects.get(pk=run.pk), False

    def _report(self, run: ReviewRun, fmt: str, provider: Any, ref: RepositoryRef) -> None:
        findings = list(run.findings.order_by("path", "start_line", "id"))
        posted = [str(p) for p in provider.posted_reviews(ref, run.pr_number)] if hasattr(provider, "posted_reviews") else []
        if fmt == "json":
            payload = {
                "run_id": run.pk,
                "status": run.status,
                "skip_reason": run.skip_reason or None,
                "message": run.skip_message or run.error_message or None,
                "error_code": run.error_code or None,
                "review_mode": run.review_mode or None,
                "provider": run.provider or None,
                "model": run.model or None,
                "coverage": run.coverage,
                "findings": [
                    {
                        "file": f.path,
                        "start_line": f.start_line,
                        "end_line": f.end_line,
                        "severity": f.severity,
                        "category": f.category,
                        "title": f.title,
                    }
                    for f in findings
                ],
                "posted_reviews": posted,
            }
            self.stdout.write(json.dumps(payload, indent=None, sort_keys=True))
            return
        self.stdout.write(f"Run {run.pk}: {run.status}" + (f" ({run.skip_reason})" if run.skip_reason else ""))
        if run.skip_message or run.error_message:
            self.stdout.write(f"  {run.skip_message or run.error_message}")
        if run.status == RunStatus.COMPLETED:
            coverage = run.coverage or {}
            self.stdout.write(
                f"  {run.review_mode} review by {run.provider}/{run.model}: "
                f"{len(coverage.get('reviewed') or [])} file(s) reviewed, "
                f"{len(coverage.get('skipped') or [])} skipped, {len(findings)} finding(s)"
            )
            for f in findings:
                where = f"{f.path}:{f.start_line}" if f.start_line else f.path
                self.stdout.write(f"  [{f.severity}] {f.category} {where}: {f.title}")
        for path in posted[-1:]:
            self.stdout.write(f"  Review posted to {path}")
