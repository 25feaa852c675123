from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import clear_throttle_buckets


@pytest.fixture(autouse=True)
def _clear_throttle_buckets() -> None:
    """Start each test with empty throttle buckets."""
    clear_throttle_buckets()


@pytest.fixture(autouse=True)
def _no_seat_limit(request: pytest.FixtureRequest, settings: Any) -> None:
    """Role and tenancy tests add members freely; the plan's seat limit is billing's rule, tested
    with it switched on in test_seats.py (marked `seat_limit`)."""
    if request.node.get_closest_marker("seat_limit") is None:
        settings.SENTINEL_SEAT_CHECK = ""
