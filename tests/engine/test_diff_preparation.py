"""Diff preparation: §2 glob semantics, default excludes, redaction, and honest budgeting."""

from __future__ import annotations

import pytest

from reviews.engine.diff import DiffParseError, PathFilter, limit_to_plan, plan_chunks, prepare_diff
from reviews.engine.globs import path_matches
from tests.engine.helpers import added_file_diff, fixture_diff, modified_file_diff


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("yarn.lock", "*.lock", True),
        ("web/yarn.lock", "*.lock", False),  # `*` never crosses `/`: root files only
        ("vendor/a/b/c.php", "vendor/**", True),
        ("src/vendor/a.php", "vendor/**", False),  # the whole path must match
        ("src/app.min.js", "**.min.js", True),
        ("src/app.min.js", "**/*.min.js", True),
        ("app.min.js", "**/*.min.js", False),  # `**/` needs a directory
        ("a/b.py", "a/?.py", True),
        ("a/bc.py", "a/?.py", False),
        ("a//.py", "a/?.py", False),  # `?` is not `/`
        ("docs/[draft].md", "docs/[draft].md", True),  # brackets are literal
    ],
)
def test_path_globs_follow_the_original_semantics(path, pattern, expected):
    assert path_matches(path, pattern) is expected


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("package-lock.json", "lockfile"),
        ("services/api/poetry.lock", "lockfile"),
        ("go.sum", "lockfile"),
        ("vendor/github.com/x/y.go", "vendored"),
        ("web/node_modules/react/index.js", "vendored"),
        ("static/app.min.js", "generated"),
        ("proto/user_pb2.py", "generated"),
        ("dist/bundle.js", "generated"),
        ("img/logo.png", "binary"),
        ("src/app.py", None),
    ],
)
def test_default_excludes(path, reason):
    assert PathFilter().exclusion(path) == reason


def test_policy_ignore_then_include_and_opting_out_of_defaults():
    policy_filter = PathFilter(ignore=("docs/**",), include=("src/**", "docs/**"))
    assert policy_filter.exclusion("docs/a.md") == "excluded"  # ignore wins over include
    assert policy_filter.exclusion("tests/test_a.py") == "excluded"  # not included
    assert policy_filter.exclusion("src/a.py") is None
    assert PathFilter(default_excludes=False).exclusion("package-lock.json") is None


def test_prepare_records_skips_with_reasons_and_redacts_before_any_prompt():
    prepared = prepare_diff(fixture_diff("planted.diff"), {"paths": {"ignore": ["web/**"]}})

    assert {s.path: s.reason for s in prepared.skipped} == {
        "web/static/app.js": "excluded",
        "package-lock.json": "lockfile",
    }
    prompt = plan_chunks(prepared, budget_tokens=10_000).chunks[0].text()
    assert "sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ" not in prompt
    assert "hunter2-is-not-safe" not in prompt
    assert "MIIEpAIBAAKCAQEA" not in prompt
    assert (
        "[REDACTED:stripe_key]" in prompt
        and "[REDACTED:credential]" in prompt
        and "[REDACTED:private_key]" in prompt
    )
    assert "+   16 | " in prompt  # new-side line numbers are shown to the model


def test_deleted_binary_and_renamed_files():
    diff = (
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\nindex 1..0\n--- a/old.py\n+++ /dev/null\n"
        "@@ -1,1 +0,0 @@\n-x = 1\n"
        "diff --git a/logo.bin b/logo.bin\nindex 1..2 100644\nBinary files a/logo.bin and b/logo.bin differ\n"
        "diff --git a/a.py b/b.py\nsimilarity index 90%\nrename from a.py\nrename to b.py\nindex 1..2 100644\n"
        "--- a/a.py\n+++ b/b.py\n@@ -1,1 +1,2 @@\n x = 1\n+y = 2\n"
    )
    prepared = prepare_diff(diff)
    assert {s.path: s.reason for s in prepared.skipped} == {"old.py": "deleted", "logo.bin": "binary"}
    (renamed,) = prepared.files
    assert (renamed.path, renamed.status, renamed.old_path, renamed.added) == ("b.py", "renamed", "a.py", [2])


def test_malformed_diff_is_a_permanent_error():
    with pytest.raises(DiffParseError):
        prepare_diff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n+only one line\n")


def _many_files(count: int, lines: int) -> str:
    return "".join(
        added_file_diff(f"src/module_{i:03}.py", [f"value_{i}_{n} = compute({n})" for n in range(lines)])
        for i in range(count)
    )


def test_a_pr_larger_than_the_budget_is_split_and_every_file_is_reviewed_once():
    prepared = prepare_diff(_many_files(40, 30))  # ~40 x 1.1 KB
    plan = plan_chunks(prepared, budget_tokens=2_000, max_calls=50)

    assert len(plan.chunks) > 1
    assert all(chunk.chars <= 2_000 * 4 for chunk in plan.chunks)
    seen = [path for chunk in plan.chunks for path in chunk.paths]
    assert sorted(seen) == sorted(f.path for f in prepared.files)  # each file in exactly one call
    assert (
        set(plan.coverage.reviewed) == set(seen)
        and plan.coverage.clipped == ()
        and plan.coverage.skipped == ()
    )


def test_a_file_larger_than_one_call_is_split_by_hunks_across_calls():
    hunks = [(n * 100 + 2, [f"line_{n}_{k} = {k}" for k in range(40)]) for n in range(10)]
    prepared = prepare_diff(modified_file_diff("src/big.py", hunks))
    plan = plan_chunks(prepared, budget_tokens=1_000, max_calls=20)

    assert len(plan.chunks) > 1
    parts = [part for chunk in plan.chunks for part in chunk.parts]
    assert {p.path for p in parts} == {"src/big.py"} and [p.part for p in parts] == list(
        range(1, len(parts) + 1)
    )
    assert plan.coverage.reviewed == ("src/big.py",)  # split, not cut: fully reviewed
    text = "\n".join(p.text for p in parts)
    assert all(f"line_{n}_39 = 39" in text for n in range(10))


def test_a_hunk_larger_than_one_call_is_cut_and_the_file_listed_as_clipped():
    prepared = prepare_diff(added_file_diff("src/huge.py", [f"row_{n} = {n}" for n in range(2_000)]))
    plan = plan_chunks(prepared, budget_tokens=1_000, max_calls=5)
    assert plan.coverage.clipped == ("src/huge.py",) and plan.coverage.reviewed == ()
    assert "hunk cut" in plan.chunks[0].text()


def test_files_beyond_the_call_limit_are_listed_as_skipped_too_large():
    prepared = prepare_diff(_many_files(40, 30))
    plan = plan_chunks(prepared, budget_tokens=2_000, max_calls=3)

    assert len(plan.chunks) == 3
    covered = set(plan.coverage.reviewed) | set(plan.coverage.clipped)
    too_large = {s.path for s in plan.coverage.skipped if s.reason == "too_large"}
    assert covered | too_large == {f.path for f in prepared.files}  # every file accounted for
    assert covered.isdisjoint(too_large) and too_large


def test_the_plans_diff_line_limit_keeps_whole_files_in_order_and_reports_the_rest():
    diff = (
        added_file_diff("a.py", [f"a{n} = {n}" for n in range(60)])
        + added_file_diff("big.py", [f"b{n} = {n}" for n in range(100)])
        + modified_file_diff("c.py", [(5, [f"c{n} = {n}" for n in range(30)])])
    )
    prepared = prepare_diff(diff)
    assert limit_to_plan(prepared, None) is prepared
    assert limit_to_plan(prepared, 190) is prepared  # 60 + 100 + 30 changed lines fit exactly

    limited = limit_to_plan(prepared, 100)
    # big.py (100) no longer fits after a.py (60); c.py (30) still does.
    assert [f.path for f in limited.files] == ["a.py", "c.py"]
    assert [(s.path, s.reason) for s in limited.skipped] == [("big.py", "plan_limit")]
    assert (limited.lines_added, limited.lines_removed) == (90, 0)
    plan = plan_chunks(limited)
    assert set(plan.coverage.reviewed) == {"a.py", "c.py"}
    assert [(s.path, s.reason) for s in plan.coverage.skipped] == [("big.py", "plan_limit")]

    nothing = limit_to_plan(prepared, 0)
    assert nothing.files == [] and {s.reason for s in nothing.skipped} == {"plan_limit"}


def test_guidelines_go_into_the_instructions_bounded_and_redacted():
    from reviews.engine.prompts import GUIDELINES_MAX_CHARS, instructions

    policy = {
        "guidelines": [
            {
                "path": "docs/style.md",
                "description": "House style",
                "content": "Prefer early returns.\n" + "x" * 20_000,
            },
            {
                "path": "docs/ops.md",
                "description": None,
                "content": 'Use API_KEY = "sk-proj-abcdefghijklmnopqrstuvwx1234"',
            },
        ]
    }
    text = instructions(policy)
    assert text.startswith("You are Sentinel") and "Answer with one JSON object only" in text
    assert "docs/style.md" in text and "House style" in text and "Prefer early returns." in text
    assert len(text) < GUIDELINES_MAX_CHARS + 4_000
    assert "sk-proj-abcdefghijklmnopqrstuvwx1234" not in text
