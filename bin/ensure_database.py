"""Create the PostgreSQL database named in DATABASE_URL when it does not exist (`make bench`).

Benchmarks use a database of their own, kept between runs (some build large fixtures once);
a fresh machine has none, so bin/bench makes it and migrates it before the first benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import ensure_database  # noqa: E402

if __name__ == "__main__":
    ensure_database()
