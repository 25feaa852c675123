"""The benchmarks' own PostgreSQL database: created when missing (a fresh machine has none).

Used by bin/ensure_database.py (`make bench` runs it before the first benchmark) and by each
benchmark, so one can also be run on its own.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlparse

import psycopg
from psycopg import sql


def ensure_database(url: str | None = None) -> bool:
    """Create the PostgreSQL database named in `url` (default DATABASE_URL) if it does not exist.

    Returns False, doing nothing, when the URL is not PostgreSQL (SQLite creates itself).
    """
    parsed = urlparse(url if url is not None else os.environ.get("DATABASE_URL", ""))
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        return False
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", file=sys.stderr)
    return True


def require_postgresql(benchmark: str) -> None:
    """Make sure DATABASE_URL's PostgreSQL database exists; stop with a clear message if it is not PostgreSQL."""
    if not ensure_database():
        raise SystemExit(f"{benchmark} needs PostgreSQL (DATABASE_URL)")
