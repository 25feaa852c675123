"""Builders for synthetic diffs (tests and the benchmark share the shapes)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"


def fixture_diff(name: str) -> str:
    return (FIXTURES / name).read_text()


def added_file_diff(path: str, lines: list[str]) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\n"
        "new file mode 100644\n"
        "index 0000000..1111111\n"
        "--- /dev/null\n"
        f"+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n"
        f"{body}"
    )


def modified_file_diff(path: str, hunks: list[tuple[int, list[str]]]) -> str:
    """Each hunk: (first new-side line, added lines), with one context line before it."""
    out = [
        f"diff --git a/{path} b/{path}\n",
        "index 1111111..2222222 100644\n",
        f"--- a/{path}\n",
        f"+++ b/{path}\n",
    ]
    for start, lines in hunks:
        context_line = start - 1
        out.append(f"@@ -{context_line},1 +{context_line},{len(lines) + 1} @@\n")
        out.append(f" context line {context_line}\n")
        out.extend(f"+{line}\n" for line in lines)
    return "".join(out)
