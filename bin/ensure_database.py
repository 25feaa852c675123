"""Create the PostgreSQL database named in DATABASE_URL when it does not exist (`make bench`).

Benchmarks use a database of their own, kept between runs (some build large fixtures once);
a fresh machine has none, so bin/bench makes it and migrates it before the first benchmark.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlparse

import psycopg
from psycopg import sql


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        return 0  # SQLite and friends create themselves
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return 0
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"created database {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
