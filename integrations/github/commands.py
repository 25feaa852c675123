"""`@sentinel <command>` comment commands: parsing, and executing one CommandRun.

Parsing happens in the webhook job (no external calls); execution in `ExecuteCommand` on the
`commands` queue, which may call GitHub and answers in the pull request. Every answer is one PR
comment carrying a marker keyed by the command's comment id, so a retry edits it instead of
posting again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

# Keyword -> command. Unknown words get the help text.
KEYWORDS: dict[str, str] = {
    "review": "review",
    "re-review": "review",
    "rereview": "review",
    "summarize": "summarize",
    "summarise": "summarize",
    "summary": "summarize",
    "pause": "pause",
    "resume": "resume",
    "help": "help",
}
# Who may command Sentinel on a pull request (GitHub's author_association of the comment).
ALLOWED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})

HELP_TEXT = """**Sentinel** commands (comment on the pull request):

| command | what it does |
|---|---|
| `{m} review` (or `re-review`) | a full review of the current head, even if it was reviewed before |
| `{m} summarize` | post the latest review's summary again |
| `{m} pause` | stop automatic reviews on this pull request |
| `{m} resume` | start automatic reviews on this pull request again |
| `{m} help` | this list |

Repository owners, members and collaborators can use them."""


@dataclass(frozen=True)
class ParsedCommand:
    command: str  # one of KEYWORDS' values, or "unknown"
    word: str  # the word as written
    arguments: str


def parse(body: str | None, *, mention: str | None = None) -> ParsedCommand | None:
    """The command in a comment body that *starts* with the mention, else None.

    Only a comment that begins with `@sentinel` is a command: a mention in the middle of a
    sentence (or Sentinel quoting its own help) is conversation, not an instruction.
    """
    mention = mention or settings.GITHUB_COMMAND_MENTION
    if not body:
        return None
    match = re.match(rf"\s*{re.escape(mention)}(?![\w-])[\s,:]*(\S*)\s*(.*)", body, flags=re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    word = match.group(1)
    arguments = match.group(2).strip()[:1000]
    if not word:
        return ParsedCommand(command="help", word="", arguments="")
    return ParsedCommand(command=KEYWORDS.get(word.lower(), "unknown"), word=word[:32], arguments=arguments)


def help_text(*, unknown_word: str = "") -> str:
    text = HELP_TEXT.format(m=settings.GITHUB_COMMAND_MENTION)
    if unknown_word:
        text = f"**Sentinel**: I don't know the command `{unknown_word}`.\n\n" + text
    return text


def refusal_text(login: str) -> str:
    return (
        f"**Sentinel**: sorry @{login}, only repository owners, members and collaborators can give "
        "Sentinel commands on this pull request."
    )
