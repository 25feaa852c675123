"""GitHub App integration: webhook intake, event routing, installation sync, the GitHub provider
and `@sentinel` comment commands. See docs/github.md."""
