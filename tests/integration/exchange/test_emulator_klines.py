"""The klines route: the unmodified ccxt client reads the emulator's own price history."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import ccxt
import pytest

from bot.clock import ManualClock
from bot.devnet.exchange import EmulatorHandle

pytestmark = pytest.mark.integration


def _walk(emulator: EmulatorHandle, clock: ManualClock, prices: list[str]) -> None:
    """One price per minute, each pinned as `devnet set-price` would move the oracle."""
    for price in prices:
        emulator.set_price("ETHUSDT", price)
        emulator.exchange.reference("ETHUSDT")  # what any route does on a read
        clock.advance(60)


def test_fetch_ohlcv_returns_the_minute_bars_the_emulator_followed(
    emulator: EmulatorHandle, client: ccxt.binance, clock: ManualClock
) -> None:
    clock.set(1_800_000_000)  # on a minute boundary
    _walk(emulator, clock, ["3000", "3030", "2970", "2900"])
    emulator.set_price("ETHUSDT", "2950")  # the bar in progress
    bars = client.fetch_ohlcv("ETH/USDT", "1m", limit=3)
    assert [b[0] for b in bars] == [1_800_000_120_000, 1_800_000_180_000, 1_800_000_240_000]
    assert [b[4] for b in bars] == [2970.0, 2900.0, 2950.0]
    five = client.fetch_ohlcv("ETH/USDT", "5m", since=1_800_000_000_000, limit=10)
    assert five == [[1_800_000_000_000, 3000.0, 3030.0, 2900.0, 2950.0, 0.0]]


def test_a_minute_without_prices_is_flat_at_the_last_close(
    emulator: EmulatorHandle, client: ccxt.binance, clock: ManualClock
) -> None:
    clock.set(1_800_000_000)
    _walk(emulator, clock, ["3000"])
    clock.advance(120)
    emulator.set_price("ETHUSDT", "3100")
    bars = client.fetch_ohlcv("ETH/USDT", "1m", since=1_800_000_000_000)
    assert [b[1:5] for b in bars] == [[3000.0] * 4, [3000.0] * 4, [3000.0] * 4, [3100.0] * 4]


def _get(emulator: EmulatorHandle, query: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{emulator.url}/api/v3/klines?{query}", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_bad_symbol_interval_and_range_get_binances_codes(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    assert _get(emulator, "symbol=DOGEUSDT&interval=1m") == (400, {"code": -1121, "msg": "Invalid symbol."})
    assert _get(emulator, "symbol=ETHUSDT&interval=7m") == (400, {"code": -1120, "msg": "Invalid interval."})
    assert _get(emulator, "symbol=ETHUSDT")[1]["code"] == -1102
    assert _get(emulator, "symbol=ETHUSDT&interval=1m&startTime=2&endTime=1")[1]["code"] == -1023
    with pytest.raises(ccxt.BadRequest):
        client.fetch_ohlcv("ETH/USDT", "7m")
