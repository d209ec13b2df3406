"""Order round trip through the venue adapter: one IOC sell against the emulator on loopback.

One ``sell`` = a lookup of the key's first client id (not found), a book read, the order
POST (FULL answer with fills). The in-flight window is 0 here: in production the first
sell of a freshly started process waits out recvWindow once.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from bot.adapters.venue import CcxtVenue
from bot.devnet.exchange import EmulatorConfig, start_emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench_venue():
    handle = start_emulator(EmulatorConfig(balances={"ETH": Decimal(1_000_000)}))
    handle.set_depth("ETHUSDT", half_life_s=0)  # instant refill: every round sees the same book
    venue = CcxtVenue.connect(
        api_key=handle.api_key,
        api_secret=handle.api_secret,
        api_url=handle.url,
        enable_rate_limit=False,
        in_flight_window_s=0.0,
    )
    venue.rules("ETH/USDT")
    try:
        yield venue
    finally:
        handle.stop()


def test_venue_ioc_sell_round_trip(benchmark, bench_venue) -> None:
    keys = (f"bench-{n}" for n in itertools.count())

    def one_sell():
        return bench_venue.sell(key=next(keys), symbol="ETH/USDT", qty=Decimal("0.5"), floor_price=Decimal("2900"))

    result = benchmark(one_sell)
    assert result.filled == Decimal("0.5")
