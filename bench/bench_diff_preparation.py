"""Review-engine benchmark (issue 6): preparing a 10,000-line, 200-file diff.

Preparation = parse (unidiff) + path filters (default excludes and policy globs) + secret
redaction + token budgeting into provider calls — everything before the first provider call.
Targets: under 0.5 s and under 150 MB peak.

Prints, for the same synthetic diff in the same run:
- the baseline: a bare `unidiff.PatchSet(text)` parse (the floor: no filtering, no redaction);
- the full preparation (best and median of several runs, no tracing), and its ratio to the baseline
  (best against best: the machine is shared, medians carry other processes' noise);
- peak memory of one full preparation (tracemalloc: Python allocations, including the input).

No database or Redis is used; Django settings are loaded only because the engine modules import
the job platform's exception types.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

FILES = 200
LINES = 10_000
RUNS = 15
TIME_TARGET_S = 0.5
MEMORY_TARGET_MB = 150

POLICY = {
    "paths": {"ignore": ["docs/**", "*.lock"], "include": [], "sensitive": ["src/auth/**"]},
    "review": {"max_findings": 25},
}


def synthetic_diff(files: int = FILES, lines: int = LINES) -> str:
    """`files` files, `lines` diff body lines in total: modified files with two hunks (context, added,
    removed lines), new files, a few lockfiles/vendored/generated files to filter, and secrets to redact."""
    per_file = lines // files
    out: list[str] = []
    for index in range(files):
        kind = index % 20
        if kind == 0:
            path = f"vendor/lib{index}/module.py"
        elif kind == 1:
            path = f"web/static/bundle{index}.min.js"
        elif kind == 2:
            path = f"services/svc{index}/poetry.lock"
        elif kind == 3:
            path = f"src/auth/handler_{index}.py"
        else:
            path = f"src/pkg{index % 17}/module_{index}.py"
        body: list[str] = []
        if index % 4 == 0:  # a new file
            for n in range(per_file):
                if n % 25 == 7:
                    body.append(f'+API_KEY_{n} = "sk-proj-{index:04d}{n:04d}abcdefghijklmnopqrstuv"')
                elif n % 25 == 13:
                    body.append(f'+    password = "hunter{index}-{n}-secret"')
                else:
                    body.append(f"+def function_{index}_{n}(value):  # returns value scaled by {n}")
            header = [f"diff --git a/{path} b/{path}", "new file mode 100644", "index 0000000..1111111",
                      "--- /dev/null", f"+++ b/{path}", f"@@ -0,0 +1,{per_file} @@"]  # fmt: skip
            out.extend(header + body)
            continue
        half = per_file // 2
        out.extend(
            [
                f"diff --git a/{path} b/{path}",
                "index 1111111..2222222 100644",
                f"--- a/{path}",
                f"+++ b/{path}",
            ]
        )
        for hunk in range(2):
            size = half
            start = 10 + hunk * 200
            context, removed = 3, 2
            added = size - context - removed
            out.append(f"@@ -{start},{context + removed} +{start},{context + added} @@ def section_{hunk}():")
            out.append(f"     existing_{hunk}_a = compute({index})")
            out.extend(f"-    old_{hunk}_{n} = legacy({n})" for n in range(removed))
            out.extend(
                f'+    token = "ghp_{index:06d}{n:06d}abcdefghijklmnopqrstuvwx"' if n == 3
                else f"+    new_{hunk}_{n} = improved(value, {n}) if value else default_{n}"
                for n in range(added)
            )  # fmt: skip
            out.extend(f"     existing_{hunk}_{c} = compute({index})" for c in ("b", "c"))
    return "\n".join(out) + "\n"


def main() -> None:
    import django

    django.setup()
    from unidiff import PatchSet

    from reviews.engine.diff import plan_chunks, prepare_diff

    text = synthetic_diff()
    body_lines = sum(
        1 for line in text.splitlines() if line[:1] in "+- " and not line.startswith(("+++", "---"))
    )
    files = len(PatchSet(text))

    def baseline() -> object:
        return PatchSet(text)

    def prepare() -> object:
        prepared = prepare_diff(text, POLICY)
        return prepared, plan_chunks(prepared, budget_tokens=24_000, max_calls=6)

    def best_and_median(func) -> tuple[float, float]:
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            func()
            samples.append(time.perf_counter() - started)
        return min(samples), statistics.median(samples)

    prepare()  # warm imports and regex caches
    base_best, base_median = best_and_median(baseline)
    best, median = best_and_median(prepare)

    tracemalloc.start()
    prepared, plan = prepare()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = peak / 1024 / 1024

    coverage = plan.coverage
    print(f"diff: {files} files, {body_lines} diff lines, {len(text) / 1024:.0f} KiB")
    print(
        f"result: {len(prepared.files)} reviewable, {len(coverage.skipped)} skipped, "
        f"{prepared.redaction_count} redactions, {len(plan.chunks)} calls "
        f"({len(coverage.reviewed)} reviewed, {len(coverage.clipped)} clipped)"
    )
    print(
        f"baseline (bare unidiff parse): best {base_best * 1000:.1f} ms, median {base_median * 1000:.1f} ms"
    )
    print(
        f"prepare (parse+filter+redact+budget): best {best * 1000:.1f} ms, median {median * 1000:.1f} ms "
        f"-> ratio {best / base_best:.2f}x the bare parse (best vs best) "
        f"[target < {TIME_TARGET_S * 1000:.0f} ms: {'ok' if best < TIME_TARGET_S else 'MISSED'}]"
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory (tracemalloc, one preparation): {peak_mb:.1f} MB; process max RSS {rss_mb:.0f} MB "
        f"[target < {MEMORY_TARGET_MB} MB: {'ok' if peak_mb < MEMORY_TARGET_MB else 'MISSED'}]"
    )


if __name__ == "__main__":
    main()
