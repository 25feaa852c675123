"""Where provider calls may go. A per-key `base_url` is an outbound request to a URL a workspace
admin typed, so it is guarded against server-side request forgery before any connection:

- `SENTINEL_AI_EGRESS_ALLOWLIST` (comma-separated host names; empty = any public host): when set,
  only these hosts are ever contacted (tests set `localhost,127.0.0.1`, so nothing leaves the
  machine whatever a fuzzer puts in `base_url`).
- Private, loopback, link-local and reserved addresses (and `localhost`/`.local`/`.internal`
  names) are refused unless `SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS` is on — turn it on for a
  self-hosted install that runs Ollama/vLLM on its own network.
- Only http and https.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from integrations.ai.errors import BadRequest

OFFICIAL_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


class EgressBlocked(BadRequest):
    """The destination is not allowed; nothing was sent. Another provider may still serve."""

    code = "egress_blocked"
    fallback = True


def _allowlist() -> set[str]:
    raw = getattr(settings, "SENTINEL_AI_EGRESS_ALLOWLIST", "") or ""
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return {item.strip().lower() for item in items if item.strip()}


def _is_private_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def _host_is_private(host: str) -> bool:
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES):
        return True
    try:
        return _is_private_address(host)
    except ValueError:
        pass  # a name, not an address literal: resolve it
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # unresolvable: the call itself will fail as a connection error
    return any(_is_private_address(info[4][0].split("%")[0]) for info in infos)


def check_destination(provider: str, base_url: str) -> None:
    """Raise `EgressBlocked` unless a call for `provider` to `base_url` (or its official API) may go out."""
    url = base_url or OFFICIAL_BASE_URLS.get(provider, "")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise EgressBlocked("The base URL must be an http(s) URL with a host.", provider=provider)
    allowlist = _allowlist()
    if allowlist and host not in allowlist:
        raise EgressBlocked(f"Calls to {host!r} are not allowed on this installation.", provider=provider)
    if not getattr(settings, "SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS", False) and _host_is_private(host):
        raise EgressBlocked(
            f"{host!r} is a private or local address; this installation does not allow those "
            "(SENTINEL_AI_ALLOW_PRIVATE_BASE_URLS).",
            provider=provider,
        )
