"""Round-trip latency of the exchange emulator through the unmodified ccxt.binance."""

from __future__ import annotations

import itertools
from decimal import Decimal

import ccxt
import pytest

from bot.devnet.exchange import DepthProfile, EmulatorConfig, ccxt_config, start_emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench_client():
    depth = {"ETHUSDT": DepthProfile(half_life_s=0), "BTCUSDT": DepthProfile(half_life_s=0)}
    handle = start_emulator(EmulatorConfig(balances={"ETH": Decimal(10**7)}, depth=depth))
    client = ccxt.binance(ccxt_config(handle.url, handle.api_key, handle.api_secret))
    client.load_markets()
    yield client
    handle.stop()


def test_emulator_bench_ioc_order_round_trip(benchmark, bench_client) -> None:
    ids = itertools.count()

    def sell():
        return bench_client.create_order(
            "ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC", "clientOrderId": f"b{next(ids)}"}
        )

    order = benchmark(sell)
    assert order["status"] == "closed"


def test_emulator_bench_order_book_fetch(benchmark, bench_client) -> None:
    book = benchmark(bench_client.fetch_order_book, "ETH/USDT", 100)
    assert len(book["bids"]) == 100


def test_emulator_bench_fetch_order_by_client_id(benchmark, bench_client) -> None:
    bench_client.create_order("ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC", "clientOrderId": "lookup"})
    order = benchmark(bench_client.fetch_order, None, "ETH/USDT", {"clientOrderId": "lookup"})
    assert order["status"] == "closed"
