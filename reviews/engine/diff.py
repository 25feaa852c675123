"""Diff preparation: parse (unidiff), filter paths, redact secrets, then budget into provider calls.

    prepared = prepare_diff(diff_text, policy)          # once per review
    plan = plan_chunks(prepared, budget_tokens=24_000, max_calls=6)   # per provider/model

`prepare_diff` keeps, for every reviewable file, its new-side lines (added and context, already
redacted) so later steps can check that a finding's line is really in the diff, and the added
lines the offline engine inspects. `plan_chunks` renders files into prompt text and packs them
into calls; a file larger than one call is split by hunks, a hunk larger than one call is cut
(the file is then *clipped*), and files that do not fit into `max_calls` are *skipped* as
`too_large`. `limit_to_plan` skips files beyond the plan's `max_diff_lines` as `plan_limit`.
Every file ends up in exactly one of `reviewed`, `clipped` or `skipped`.

Tokens are estimated from characters (4 per token, the usual rule for English and code), so no
tokenizer has to be downloaded; budgets leave room for the estimate's error.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from integrations.ai.redaction import PrivateKeyBlock, might_contain_secret
from queues.exceptions import PermanentFailure
from reviews.engine import policy as policy_mod
from reviews.engine.globs import matches_any
from reviews.engine.types import Coverage, SkippedFile

CHARS_PER_TOKEN = 4

# --- Built-in excludes (on unless `paths.default_excludes: false`) -------------------------------
LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "go.sum",
        "mix.lock",
        "flake.lock",
        "packages.lock.json",
        "podfile.lock",
        "pubspec.lock",
        "gradle.lockfile",
    }
)
VENDORED_DIRS = frozenset(
    {
        "vendor",
        "node_modules",
        "third_party",
        "third-party",
        "bower_components",
        ".yarn",
        "pods",
        "site-packages",
    }
)
GENERATED_DIRS = frozenset({"dist", "__snapshots__", "__generated__", "generated"})
GENERATED_SUFFIXES = (
    ".min.js",
    ".min.css",
    ".min.mjs",
    ".js.map",
    ".css.map",
    ".map",
    "_pb2.py",
    "_pb2_grpc.py",
    ".pb.go",
    ".pb.cc",
    ".pb.h",
    ".g.dart",
    ".freezed.dart",
    ".designer.cs",
    ".snap",
)
BINARY_EXTENSIONS = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".psd",
        ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".war",
        ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4", ".mov", ".avi", ".wav", ".ogg",
        ".exe", ".dll", ".so", ".dylib", ".a", ".o", ".class", ".pyc", ".wasm", ".bin", ".dat",
        ".sqlite", ".sqlite3", ".db", ".parquet",
    }
)  # fmt: skip


class DiffParseError(PermanentFailure):
    """The diff text is not a unified diff unidiff can read: retrying cannot help."""


@dataclass
class FileDiff:
    """One reviewable file of the diff, with secrets already redacted."""

    path: str
    status: str  # added | modified | renamed
    old_path: str = ""
    # Rendered hunks (prompt text), one string per hunk, without the file header.
    hunks: list[str] = field(default_factory=list)
    # New-side line number -> (redacted) text, for added and context lines.
    new_lines: dict[int, str] = field(default_factory=dict)
    # New-side line numbers of added lines, in order.
    added: list[int] = field(default_factory=list)
    removed_count: int = 0
    # (new-side line, kind) of every redaction on an added line.
    redactions: list[tuple[int, str]] = field(default_factory=list)
    sensitive: bool = False

    @property
    def added_count(self) -> int:
        return len(self.added)

    def header(self) -> str:
        label = self.status if self.status != "renamed" else f"renamed from {self.old_path}"
        flag = " [sensitive path: review with extra care]" if self.sensitive else ""
        return f"### {self.path} ({label}){flag}\n"


@dataclass
class PreparedDiff:
    files: list[FileDiff]
    skipped: list[SkippedFile]
    redaction_count: int = 0
    lines_added: int = 0
    lines_removed: int = 0

    def file(self, path: str) -> FileDiff | None:
        return self._index.get(path)

    def __post_init__(self) -> None:
        self._index = {f.path: f for f in self.files}


@dataclass(frozen=True)
class ChunkPart:
    path: str
    text: str  # header + hunks of this part
    part: int  # 1-based
    parts: int


@dataclass
class Chunk:
    parts: list[ChunkPart] = field(default_factory=list)
    chars: int = 0

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.parts]

    def text(self) -> str:
        return "\n".join(p.text for p in self.parts)

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens_for_chars(self.chars)


@dataclass
class ChunkPlan:
    chunks: list[Chunk]
    coverage: Coverage


def estimate_tokens(text: str) -> int:
    return estimate_tokens_for_chars(len(text))


def estimate_tokens_for_chars(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


# --- Filtering -----------------------------------------------------------------------------------
def builtin_exclusion(path: str) -> str | None:
    """Why a path is excluded by default (lockfile, vendored, generated, binary), or None."""
    lowered = path.lower()
    base = posixpath.basename(lowered)
    if base in LOCKFILES or base.endswith(".lock") or base.endswith(".lockfile"):
        return "lockfile"
    directories = lowered.split("/")[:-1]
    if any(d in VENDORED_DIRS for d in directories):
        return "vendored"
    if any(d in GENERATED_DIRS for d in directories) or base.endswith(GENERATED_SUFFIXES):
        return "generated"
    if ".generated." in base or base.endswith(".generated"):
        return "generated"
    if posixpath.splitext(base)[1] in BINARY_EXTENSIONS:
        return "binary"
    return None


@dataclass(frozen=True)
class PathFilter:
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    default_excludes: bool = True

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> PathFilter:
        paths = policy_mod.section(policy, "paths")
        return cls(
            ignore=tuple(policy_mod.str_list(paths.get("ignore"))),
            include=tuple(policy_mod.str_list(paths.get("include"))),
            sensitive=tuple(policy_mod.str_list(paths.get("sensitive"))),
            default_excludes=paths.get("default_excludes", True) is not False,
        )

    def exclusion(self, path: str) -> str | None:
        """Why `path` is left out of review, or None when it is reviewed."""
        if self.default_excludes:
            reason = builtin_exclusion(path)
            if reason:
                return reason
        if self.ignore and matches_any(path, self.ignore):
            return "excluded"
        # `include` applies after `ignore` (original §2.1): only matching files are reviewed.
        if self.include and not matches_any(path, self.include):
            return "excluded"
        return None

    def is_sensitive(self, path: str) -> bool:
        return bool(self.sensitive) and matches_any(path, self.sensitive)


# --- Parse, filter, redact -----------------------------------------------------------------------
def _clean_path(name: str | None) -> str:
    if not name or name == "/dev/null":
        return ""
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def prepare_diff(diff_text: str, policy: Mapping[str, Any] | None = None) -> PreparedDiff:
    """Parse, filter and redact `diff_text`. Raises `DiffParseError` on a malformed diff."""
    path_filter = PathFilter.from_policy(policy or {})
    try:
        patch = PatchSet(diff_text)
    except UnidiffParseError as exc:
        raise DiffParseError(f"unreadable diff: {exc}") from None

    files: list[FileDiff] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    redaction_count = lines_added = lines_removed = 0

    for patched in patch:
        target = _clean_path(patched.target_file)
        source = _clean_path(patched.source_file)
        path = target or source or patched.path
        if path in seen:  # a path twice in one diff (combined diffs): review the first only
            continue
        seen.add(path)
        if patched.is_removed_file:
            skipped.append(SkippedFile(path, "deleted"))
            continue
        if patched.is_binary_file:
            skipped.append(SkippedFile(path, "binary"))
            continue
        reason = path_filter.exclusion(path)
        if reason:
            skipped.append(SkippedFile(path, reason))
            continue
        if not len(patched):  # mode change or pure rename: nothing to review
            continue

        if patched.is_added_file:
            status = "added"
        elif patched.is_rename and source and source != path:
            status = "renamed"
        else:
            status = "modified"
        file_diff = FileDiff(
            path=path,
            status=status,
            old_path=source if status == "renamed" else "",
            sensitive=path_filter.is_sensitive(path),
        )
        key_block = PrivateKeyBlock()
        new_lines = file_diff.new_lines
        added = file_diff.added
        for hunk in patched:
            rendered = [
                f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
            ]
            if hunk.section_header:
                rendered[0] += f" {hunk.section_header.strip()}"
            # Most hunks hold no secret: one check on the whole hunk, then per line only if needed.
            hunk_may_hold_secret = key_block.inside or might_contain_secret(
                "".join(line.value for line in hunk)
            )
            for line in hunk:
                line_type = line.line_type
                value = line.value.rstrip("\n").rstrip("\r")
                scan = hunk_may_hold_secret and (key_block.inside or might_contain_secret(value))
                if line_type == "+":
                    number = line.target_line_no
                    value, found = key_block.feed(value) if scan else (value, ())
                    if found:
                        redaction_count += len(found)
                        file_diff.redactions.extend((number, r.kind) for r in found)
                    new_lines[number] = value
                    added.append(number)
                    rendered.append(f"+{number:>5} | {value}")
                elif line_type == " ":
                    number = line.target_line_no
                    if scan:
                        value, found = key_block.feed(value)
                        redaction_count += len(found)
                    new_lines[number] = value
                    rendered.append(f" {number:>5} | {value}")
                elif line_type == "-":
                    if scan:
                        value, found = key_block.feed(value)
                        redaction_count += len(found)
                    file_diff.removed_count += 1
                    rendered.append(f"-      | {value}")
                # "\ No newline at end of file" carries nothing to review.
            file_diff.hunks.append("\n".join(rendered))
        lines_added += file_diff.added_count
        lines_removed += file_diff.removed_count
        files.append(file_diff)

    return PreparedDiff(
        files=files,
        skipped=skipped,
        redaction_count=redaction_count,
        lines_added=lines_added,
        lines_removed=lines_removed,
    )


# --- Budget --------------------------------------------------------------------------------------
def limit_to_plan(prepared: PreparedDiff, max_lines: int | None) -> PreparedDiff:
    """Keep files, in diff order, while their changed lines (added + removed) fit the plan's
    `max_diff_lines`; the others are skipped as `plan_limit`, so the coverage says what was left out.

    A file is kept or skipped whole: half a file would be reviewed without the rest of its change.
    A later, smaller file still fits after a large one was skipped. `None` means no limit.
    """
    if max_lines is None:
        return prepared
    kept: list[FileDiff] = []
    skipped = list(prepared.skipped)
    room = max(0, max_lines)
    for file_diff in prepared.files:
        size = file_diff.added_count + file_diff.removed_count
        if size <= room:
            kept.append(file_diff)
            room -= size
        else:
            skipped.append(SkippedFile(file_diff.path, "plan_limit"))
    if len(kept) == len(prepared.files):
        return prepared
    return PreparedDiff(
        files=kept,
        skipped=skipped,
        redaction_count=prepared.redaction_count,
        lines_added=sum(f.added_count for f in kept),
        lines_removed=sum(f.removed_count for f in kept),
    )


def _split_file(file_diff: FileDiff, budget_chars: int) -> tuple[list[str], bool]:
    """The file's prompt text in parts that each fit `budget_chars`; True when something was cut."""
    header = file_diff.header()
    room = budget_chars - len(header)
    parts: list[str] = []
    current: list[str] = []
    size = 0
    clipped = False
    for hunk in file_diff.hunks:
        if len(hunk) + 1 > room:
            # One hunk alone is over the budget: keep as many whole lines as fit, say it was cut.
            kept: list[str] = []
            kept_size = 0
            marker = "… (hunk cut: over the review budget)"
            for line in hunk.split("\n"):
                if kept_size + len(line) + 1 + len(marker) + 1 > room:
                    break
                kept.append(line)
                kept_size += len(line) + 1
            hunk = "\n".join([*kept, marker])
            clipped = True
        if current and size + len(hunk) + 1 > room:
            parts.append(header + "\n".join(current))
            current, size = [], 0
        current.append(hunk)
        size += len(hunk) + 1
    if current:
        parts.append(header + "\n".join(current))
    return parts, clipped


def plan_chunks(
    prepared: PreparedDiff, *, budget_tokens: int | None = None, max_calls: int | None = None
) -> ChunkPlan:
    """Pack the prepared files into provider calls of at most `budget_tokens` each.

    `budget_tokens=None` means one call with everything (the offline engine has no context limit).
    Files keep their diff order; the parts of a split file go into consecutive calls.
    """
    budget_chars = None if budget_tokens is None else max(1_000, budget_tokens * CHARS_PER_TOKEN)
    chunks: list[Chunk] = []
    reviewed: list[str] = []
    clipped: list[str] = []
    skipped = list(prepared.skipped)
    current = Chunk()

    def close_current() -> None:
        nonlocal current
        if current.parts:
            chunks.append(current)
        current = Chunk()

    for file_diff in prepared.files:
        if budget_chars is None:
            texts, cut = [file_diff.header() + "\n".join(file_diff.hunks)], False
        else:
            texts, cut = _split_file(file_diff, budget_chars)
        included = 0
        for index, text in enumerate(texts, start=1):
            if budget_chars is not None and current.parts and current.chars + len(text) + 1 > budget_chars:
                close_current()
            if max_calls is not None and len(chunks) >= max_calls:
                break  # no call left for this part
            current.parts.append(ChunkPart(file_diff.path, text, index, len(texts)))
            current.chars += len(text) + 1
            included += 1
        if included == 0:
            skipped.append(SkippedFile(file_diff.path, "too_large"))
        elif cut or included < len(texts):
            clipped.append(file_diff.path)
        else:
            reviewed.append(file_diff.path)
    close_current()
    if max_calls is not None and len(chunks) > max_calls:  # pragma: no cover - guarded above
        chunks = chunks[:max_calls]
    return ChunkPlan(
        chunks=chunks,
        coverage=Coverage(reviewed=tuple(reviewed), clipped=tuple(clipped), skipped=tuple(skipped)),
    )
