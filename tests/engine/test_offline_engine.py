"""The offline engine finds each planted problem at its line, and nothing on clean code."""

from __future__ import annotations

import pytest

from reviews.engine.service import review
from reviews.engine.types import EngineRequest
from tests.engine.helpers import added_file_diff, fixture_diff

pytestmark = pytest.mark.django_db

# (path, new-side line or None for file-level, severity, words in the title)
PLANTED = {
    ("app/payments.py", 6, "high", "hard-coded secret"),  # Stripe live key
    ("app/payments.py", 7, "high", "hard-coded credential"),  # DB_PASSWORD = "..."
    ("app/payments.py", 10, "low", "debug print"),
    ("app/payments.py", 11, "high", "sql built by string formatting"),
    ("app/payments.py", 12, "high", "shell=true"),
    ("app/payments.py", 13, "high", "unsafe deserialisation"),
    ("app/payments.py", 14, "high", "yaml.load"),
    ("app/payments.py", 15, "low", "todo added"),
    ("app/payments.py", 16, "high", "eval()"),
    ("web/static/app.js", 2, "low", "console output"),
    ("web/static/app.js", 3, "medium", "debugger"),
    ("deploy/id_rsa", 1, "critical", "private key"),
}


def _review(diff: str, policy: dict | None = None):
    return review(EngineRequest(workspace_id=1, diff=diff, policy=policy or {}))


def test_offline_engine_finds_every_planted_problem_at_its_line_and_nothing_else():
    result = _review(fixture_diff("planted.diff"))

    found = {(f.path, f.start_line, f.severity, f.title.lower()) for f in result.findings}
    for path, line, severity, words in PLANTED:
        assert any(
            p == path and n == line and s == severity and words in title for p, n, s, title in found
        ), f"missing {path}:{line} {words!r} in {sorted(found)}"
    assert len(result.findings) == len(PLANTED)
    assert result.provider == "offline"
    assert result.usage.cost_microusd == 0
    assert "offline engine" in result.summary
    assert result.risk_level == "critical"
    assert result.coverage.skipped[0].path == "package-lock.json"
    assert result.coverage.skipped[0].reason == "lockfile"


def test_offline_engine_reports_nothing_on_clean_code():
    result = _review(fixture_diff("clean.diff"))
    assert result.findings == ()
    assert set(result.coverage.reviewed) == {"app/orders.py", "web/src/search.ts"}
    assert result.risk_level == "low"


def test_secrets_never_reach_findings_or_summary():
    result = _review(fixture_diff("planted.diff"))
    text = repr(result)
    assert "sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ" not in text
    assert "hunter2-is-not-safe" not in text
    assert "MIIEpAIBAAKCAQEA" not in text


def test_very_large_added_file_is_a_file_level_finding():
    diff = added_file_diff("data/big_table.py", [f"ROW_{i} = {i}" for i in range(1200)])
    result = _review(diff)
    assert [(f.path, f.start_line, f.title) for f in result.findings] == [
        ("data/big_table.py", None, "Very large file added")
    ]


def test_findings_on_removed_lines_are_not_reported():
    diff = (
        "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n"
        "@@ -1,2 +1,1 @@\n-eval(user_input)\n print('kept context')\n"
    )
    assert _review(diff).findings == ()


def test_policy_filters_apply_to_offline_findings():
    policy = {"review": {"min_severity": "high", "categories": {"maintainability": False}}}
    result = _review(fixture_diff("planted.diff"), policy)
    assert result.findings
    assert all(f.severity in ("high", "critical") for f in result.findings)
    assert result.extra["dropped"]["below_min_severity"] >= 1


def test_known_fingerprints_are_not_reported_again_even_when_lines_move():
    first = _review(fixture_diff("planted.diff"))
    eval_finding = next(f for f in first.findings if "eval" in f.title)
    # The same code, two lines lower: the fingerprint follows the code, not the line number.
    shifted = (
        fixture_diff("planted.diff")
        .replace("+import pickle\n", "+import pickle\n+import json\n+import re\n", 1)
        .replace("@@ -1,6 +1,17 @@", "@@ -1,6 +1,19 @@", 1)
    )
    second = review(
        EngineRequest(
            workspace_id=1, diff=shifted, policy={}, known_fingerprints=frozenset({eval_finding.fingerprint})
        )
    )
    assert not any("eval" in f.title for f in second.findings)
    assert second.extra["dropped"]["already_reported"] == 1


def test_a_diff_with_nothing_reviewable_needs_no_provider():
    diff = (
        "diff --git a/yarn.lock b/yarn.lock\nindex 1..2 100644\n--- a/yarn.lock\n+++ b/yarn.lock\n"
        "@@ -1,1 +1,1 @@\n-a\n+b\n"
    )
    result = _review(diff)
    assert result.findings == () and result.usage.calls == 0
    assert result.coverage.reviewed == () and result.coverage.skipped[0].reason == "lockfile"
    assert "Nothing to review" in result.summary


def test_max_findings_caps_and_zero_means_no_cap():
    capped = _review(fixture_diff("planted.diff"), {"review": {"max_findings": 3}})
    assert len(capped.findings) == 3 and capped.extra["dropped"]["over_max_findings"] == len(PLANTED) - 3
    assert [f.severity for f in capped.findings] == ["critical", "high", "high"]  # most severe first
    uncapped = _review(fixture_diff("planted.diff"), {"review": {"max_findings": 0}})
    assert len(uncapped.findings) == len(PLANTED)
