"""Source-control providers behind one interface (GitHub, local git).

Review runs talk to a pull request only through `SourceControlProvider`; providers register
themselves by name in `registry`.
"""

from integrations.source_control.base import (
    ChangedFile,
    ChangedFiles,
    CheckStatus,
    InlineComment,
    PostedItem,
    PullRequestInfo,
    RepositoryRef,
    SourceControlError,
    SourceControlProvider,
    hidden_marker,
)
from integrations.source_control.registry import get_provider, register_provider

__all__ = [
    "ChangedFile",
    "ChangedFiles",
    "CheckStatus",
    "InlineComment",
    "PostedItem",
    "PullRequestInfo",
    "RepositoryRef",
    "SourceControlError",
    "SourceControlProvider",
    "get_provider",
    "hidden_marker",
    "register_provider",
]
