"""The offline engine: deterministic, rule-based findings on added lines. No network, no key, no cost.

It is the default provider (`SENTINEL_DEFAULT_AI_PROVIDER=offline`), so a fresh install reviews
pull requests before anyone adds an AI key, and it says so in its summary. Rules (each on added
lines only, so it never blames a PR for code it did not touch):

- hard-coded credentials and private keys — from the redactions made while preparing the diff
  (the engine never sees the secret itself);
- debug statements (print/breakpoint/pdb, console.log/debugger, var_dump/dd, binding.pry, ...);
- added TODO / FIXME / XXX / HACK markers;
- very large added files (file-level);
- dangerous calls: eval/exec, `shell=True`, os.system/popen, pickle/marshal loads, unsafe yaml.load;
- SQL built by string formatting (f-strings, %, .format, concatenation, template literals).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from integrations.ai.base import Provider, ProviderReply, ProviderRequest, ReviewFile
from integrations.ai.schema import ModelFinding, ModelReview

NAME = "offline"
MODEL = "sentinel-offline-rules-v1"
LARGE_FILE_LINES = 1000

PYTHON = {".py", ".pyi"}
JAVASCRIPT = {".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".vue", ".svelte"}
RUBY = {".rb", ".rake"}
PHP = {".php"}
JVM = {".java", ".kt", ".kts", ".scala"}


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    extensions: frozenset[str] | None  # None = any file
    severity: str
    category: str
    title: str
    body: str
    confidence: float = 0.9
    suggestion: str | None = None


def _rule(
    name: str,
    pattern: str,
    extensions: set[str] | None,
    severity: str,
    category: str,
    title: str,
    body: str,
    **extra,
) -> Rule:  # noqa: E501
    return Rule(
        name,
        re.compile(pattern),
        frozenset(extensions) if extensions is not None else None,
        severity,
        category,
        title,
        body,
        **extra,
    )


DEBUG_BODY = (
    "A debugging statement was added. It leaks internal state into logs or output and usually "
    "is not meant to ship; use the project's logger or remove it."
)
RULES: tuple[Rule, ...] = (
    # Debug statements.
    _rule(
        "py-print",
        r"^\s*print\s*\(",
        PYTHON,
        "low",
        "maintainability",
        "Debug print statement added",
        DEBUG_BODY,
    ),
    _rule(
        "py-breakpoint",
        r"(?:^|[;\s])(?:breakpoint\s*\(\s*\)|(?:i?pdb|pudb)\.set_trace\s*\(|import\s+i?pdb\b)",
        PYTHON,
        "medium",
        "bug",
        "Debugger breakpoint left in the code",
        "A debugger call stops the process waiting for input: in a server or a worker it hangs the request or job.",
    ),
    _rule(
        "js-console",
        r"\bconsole\.(?:log|debug|trace|dir)\s*\(",
        JAVASCRIPT,
        "low",
        "maintainability",
        "Debug console output added",
        DEBUG_BODY,
    ),
    _rule(
        "js-debugger",
        r"(?:^|[;{\s])debugger\s*;?\s*$",
        JAVASCRIPT,
        "medium",
        "bug",
        "`debugger` statement left in the code",
        "A `debugger` statement pauses execution whenever developer tools are open and should not ship.",
    ),
    _rule(
        "php-dump",
        r"(?<![\w>$])(?:var_dump|print_r|dd|dump)\s*\(",
        PHP,
        "low",
        "maintainability",
        "Debug dump added",
        DEBUG_BODY,
    ),
    _rule(
        "rb-debugger",
        r"\b(?:binding\.pry|byebug|binding\.irb)\b",
        RUBY,
        "medium",
        "bug",
        "Debugger breakpoint left in the code",
        "A debugger call stops the process waiting for input.",
    ),
    _rule(
        "jvm-println",
        r"\bSystem\.(?:out|err)\.println\s*\(",
        JVM,
        "low",
        "maintainability",
        "Debug println added",
        DEBUG_BODY,
    ),
    # Dangerous calls.
    _rule(
        "eval",
        r"(?<![\w.])eval\s*\(",
        PYTHON | JAVASCRIPT | PHP | RUBY,
        "high",
        "security",
        "Use of eval()",
        "`eval` runs arbitrary code: if any part of its input can be influenced by a user, this is "
        "remote code execution. Parse the data instead (e.g. `json.loads`, `ast.literal_eval`).",
    ),
    _rule(
        "exec",
        r"(?<![\w.])exec\s*\(",
        PYTHON,
        "high",
        "security",
        "Use of exec()",
        "`exec` runs arbitrary code; it is almost never needed and is dangerous with any outside input.",
    ),
    _rule(
        "shell-true",
        r"\bshell\s*=\s*True\b",
        PYTHON,
        "high",
        "security",
        "Subprocess started with shell=True",
        "With `shell=True` the command line is interpreted by the shell, so any interpolated value can "
        "inject commands. Pass the arguments as a list and drop `shell=True`.",
    ),
    _rule(
        "os-system",
        r"\bos\.(?:system|popen)\s*\(",
        PYTHON,
        "high",
        "security",
        "Shell command run with os.system/os.popen",
        "`os.system` and `os.popen` run their argument through the shell (command injection). Use "
        "`subprocess.run([...])` with an argument list.",
    ),
    _rule(
        "unsafe-deserialise",
        r"\b(?:pickle|cPickle|marshal|dill)\.loads?\s*\(",
        PYTHON,
        "high",
        "security",
        "Unsafe deserialisation",
        "Unpickling data runs code chosen by whoever produced it. Never load pickles from untrusted "
        "sources; use JSON or another data-only format.",
    ),
    _rule(
        "yaml-load",
        r"\byaml\.load\s*\((?![^)]*Loader\s*=\s*(?:yaml\.)?(?:Safe|CSafe)Loader)",
        PYTHON,
        "high",
        "security",
        "yaml.load without a safe loader",
        "`yaml.load` with the default/full loader can construct arbitrary objects. Use `yaml.safe_load`.",
    ),
    _rule(
        "php-unserialize",
        r"(?<![\w>$])(?:unserialize|shell_exec|system|passthru)\s*\(",
        PHP,
        "high",
        "security",
        "Dangerous PHP call",
        "This call deserialises or runs shell commands; with user input it allows code execution.",
    ),
)

TODO_RE = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b")
SQL_RE = re.compile(
    r"(?i)\b(?:select\s+[\w*,.\s()\"'`]+?\s+from\s|insert\s+into\s|update\s+[\w.\"`]+\s+set\s|delete\s+from\s)"
)
# Evidence that the SQL string is built from values rather than passed parameters.
SQL_FORMAT_RE = re.compile(
    r"""(?x)
    \bf["'][^"']*\b(?:select|insert|update|delete)\b[^"']*\{   # f-string with a placeholder
    | ["']\s*%\s*[\w(]                                          # "..." % value
    | ["']\s*\.format\s*\(                                      # "...".format(
    | ["']\s*\+\s*[\w(]                                         # "..." + value
    | [\w)\]]\s*\+\s*["']                                       # value + "..."
    | `[^`]*\$\{                                                # JS template literal
    | \$\w+[^"']*["']\s*;?\s*$                                  # PHP "... $var"
    """,
    re.IGNORECASE,
)

CREDENTIAL_TITLES = {
    "private_key": ("critical", "Private key committed"),
    "credential": ("high", "Hard-coded credential"),
}


def _extension(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def _finding(path: str, line: int | None, rule: Rule | None = None, **fields) -> ModelFinding:
    base = {
        "file": path,
        "start_line": line,
        "end_line": line,
        "suggestion": None,
        "confidence": 0.9,
    }
    if rule is not None:
        base.update(
            severity=rule.severity,
            category=rule.category,
            title=rule.title,
            body=rule.body,
            confidence=rule.confidence,
            suggestion=rule.suggestion,
        )
    base.update(fields)
    return ModelFinding(**base)


def review_file(file: ReviewFile) -> list[ModelFinding]:
    findings: list[ModelFinding] = []
    extension = _extension(file.path)
    rules = [r for r in RULES if r.extensions is None or extension in r.extensions]

    # Credentials: one finding per line; a PEM block is reported once, at its first line.
    key_lines = {line for line, kind in file.redactions if kind == "private_key"}
    reported: set[int] = set()
    for line, kind in file.redactions:
        if line in reported:
            continue
        reported.add(line)
        if kind == "private_key" and (line - 1) in key_lines:
            continue  # inside a PEM block already reported at its BEGIN line
        severity, title = CREDENTIAL_TITLES.get(
            kind, ("high", f"Hard-coded secret ({kind.replace('_', ' ')})")
        )
        findings.append(
            _finding(
                file.path,
                line,
                severity=severity,
                category="security",
                title=title,
                body=(
                    "A secret appears in the added code (it was redacted before review). Anyone with "
                    "read access to the repository or its history can use it: revoke it, load it from "
                    "the environment or a secret manager, and purge it from the history."
                ),
                confidence=0.95,
            )
        )

    for line, text in file.added_lines:
        for rule in rules:
            if rule.pattern.search(text):
                findings.append(_finding(file.path, line, rule))
        marker = TODO_RE.search(text)
        if marker:
            findings.append(
                _finding(
                    file.path,
                    line,
                    severity="low",
                    category="maintainability",
                    title=f"{marker.group(1)} added",
                    body=(
                        f"A `{marker.group(1)}` marker was added. Track the remaining work in an issue "
                        "so it is not forgotten, or finish it before merging."
                    ),
                    confidence=1.0,
                )
            )
        if SQL_RE.search(text) and SQL_FORMAT_RE.search(text):
            findings.append(
                _finding(
                    file.path,
                    line,
                    severity="high",
                    category="security",
                    title="SQL built by string formatting",
                    body=(
                        "The query text is assembled from values, which allows SQL injection. Pass the "
                        "values as query parameters (e.g. `cursor.execute(sql, params)`) or use the ORM."
                    ),
                    confidence=0.85,
                )
            )

    if file.status == "added" and file.added_count >= LARGE_FILE_LINES:
        findings.append(
            _finding(
                file.path,
                None,
                severity="low",
                category="maintainability",
                title="Very large file added",
                body=(
                    f"This pull request adds a file of {file.added_count} lines. Large files are hard to "
                    "review; if it is generated or vendored, exclude it with `paths.ignore`, otherwise "
                    "consider splitting it."
                ),
                confidence=0.9,
            )
        )
    return findings


class OfflineProvider(Provider):
    """Rule-based review of `request.files`; ignores the prompt text."""

    name = NAME

    def review(self, request: ProviderRequest) -> ProviderReply:
        findings: list[ModelFinding] = []
        for file in request.files:
            findings.extend(review_file(file))
        files = len(request.files)
        summary = (
            f"Reviewed by the Sentinel offline engine (rule-based checks, no AI model): {len(findings)} "
            f"finding{'s' if len(findings) != 1 else ''} in {files} file{'s' if files != 1 else ''}. "
            "It looks for hard-coded secrets, debug statements, TODO markers, very large files, "
            "dangerous calls and SQL built from strings; add an AI provider key for a full review."
        )
        return ProviderReply(
            review=ModelReview(summary=summary, risk_level="low", findings=findings),
            model=MODEL,
            calls=1,
        )
