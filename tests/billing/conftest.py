from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.billing.stripe_helpers import WEBHOOK_SECRET

PRICES = {"pro": "price_test_pro", "team": "price_test_team", "enterprise": "price_test_enterprise"}


@pytest.fixture
def stripe_settings(settings) -> Iterator[object]:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_SECRET_KEY = "sk_test_sentinel"
    settings.BILLING_STRIPE_PRICES = dict(PRICES)
    yield settings
