"""Path globs with the original product's semantics (original-sentinel.md §2).

The whole path must match. `**` matches anything including `/`; `*` matches anything except `/`;
`?` matches one character other than `/`. So `*.lock` matches only files at the repository root,
and `vendor/**` everything under `vendor/`. Character classes are not special: `[` is literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def path_matches(path: str, pattern: str) -> bool:
    return glob_to_regex(pattern).match(path) is not None


def matches_any(path: str, patterns: Iterable[str]) -> bool:
    return any(glob_to_regex(p).match(path) is not None for p in patterns)
