"""``CcxtVenue.recent_prices`` over the emulator's klines route, and its failure as a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.adapters.venue import CcxtVenue
from bot.devnet.exchange import EmulatorHandle
from bot.engine.volatility import read_price_history
from bot.errors import Retryable

pytestmark = pytest.mark.integration
D = Decimal


def _minute_walk(emulator: EmulatorHandle, prices: list[str]) -> None:
    for price in prices:
        emulator.set_price("ETHUSDT", price)
        with emulator.lock:
            emulator.prices.sample()
        emulator.advance_clock(60)
    emulator.set_price("ETHUSDT", "3000")


def test_recent_prices_are_the_closes_of_the_last_candles_a_minute_apart(
    emulator: EmulatorHandle, venue: CcxtVenue
) -> None:
    _minute_walk(emulator, ["3000", "3030", "2970", "2900"])
    closes = venue.recent_prices("ETH/USDT", timeframe="1m", limit=4)
    assert [price for _, price in closes] == [D("3030"), D("2970"), D("2900"), D("3000")]
    assert [b[0] - a[0] for a, b in zip(closes, closes[1:])] == [60, 60, 60]
    history = read_price_history(venue, "ETH/USDT", timeframe="1m", limit=4)
    assert history.points == closes and history.source == "1m candles (ccxt fetch_ohlcv)"


def test_a_failing_klines_route_is_retried_then_becomes_the_reason(emulator: EmulatorHandle, venue: CcxtVenue) -> None:
    _minute_walk(emulator, ["3000", "3030"])
    emulator.add_fault("GET /api/v3/klines", "status", status=503, times=None)
    with pytest.raises(Retryable):
        venue.recent_prices("ETH/USDT", timeframe="1m", limit=10)
    history = read_price_history(venue, "ETH/USDT", timeframe="1m", limit=10)
    assert history.points == () and history.source == (
        f"candles unavailable: ExchangeNotAvailable: binance GET {emulator.url}/api/v3/klines 503 Service Unavailable"
    )
    assert len(emulator.requests.records("/api/v3/klines", "GET")) == 8  # 4 attempts per read
