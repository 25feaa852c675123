"""Stop at once, naming the variable to set, when PostgreSQL or Redis cannot be reached."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

import psycopg
import redis


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]
    problems = []
    parts = urlsplit(database_url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        problems.append(f"DATABASE_URL must point at PostgreSQL for the tests (got {parts.scheme!r}): set TEST_DATABASE_URL")
    else:
        try:
            psycopg.connect(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=parts.username or "postgres",
                password=parts.password,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg.Error as exc:
            problems.append(f"PostgreSQL is not reachable at {parts.hostname}:{parts.port or 5432} ({exc}). "
                            "Start it or set TEST_DATABASE_URL.")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis is not reachable at {redis_url} ({exc}). Start it or set TEST_REDIS_URL.")
    for problem in problems:
        print(f"make test: {problem}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
