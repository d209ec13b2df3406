"""The unmodified ccxt.async_support.binance against the emulator: same routes, same errors."""

from __future__ import annotations

import asyncio

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from bot.devnet.exchange import EmulatorHandle, ccxt_config

pytestmark = pytest.mark.integration


def _run(emulator: EmulatorHandle, scenario, **extra):
    async def main():
        client = ccxt_async.binance(ccxt_config(emulator.url, emulator.api_key, emulator.api_secret, **extra))
        try:
            await client.load_markets()
            return await scenario(client)
        finally:
            await client.close()

    return asyncio.run(main())


def test_emulator_async_client_trades_and_reads(emulator: EmulatorHandle) -> None:
    async def scenario(client):
        book = await client.fetch_order_book("ETH/USDT", 10)
        order = await client.create_order(
            "ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC", "clientOrderId": "as-1"}
        )
        fetched = await client.fetch_order(None, "ETH/USDT", {"clientOrderId": "as-1"})
        trades = await client.fetch_my_trades("ETH/USDT", params={"orderId": order["id"]})
        balance = await client.fetch_balance()
        return book, order, fetched, trades, balance

    book, order, fetched, trades, balance = _run(emulator, scenario)
    assert book["bids"][0][0] < 3000 < book["asks"][0][0]
    assert order["status"] == "closed" and fetched["id"] == order["id"]
    assert sum(t["amount"] for t in trades) == 1.0
    assert balance["ETH"]["total"] == 99.0


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "delay", "seconds": 0.6}, ccxt.RequestTimeout),
        ({"kind": "status", "status": 503}, ccxt.ExchangeNotAvailable),
        ({"kind": "rate_limit", "times": 1}, ccxt.DDoSProtection),
        ({"kind": "lost", "how": "504"}, ccxt.RequestTimeout),
        ({"kind": "lost", "how": "drop"}, ccxt.NetworkError),
        (
            {"kind": "reject", "code": -2010, "msg": "Account has insufficient balance for requested action."},
            ccxt.InsufficientFunds,
        ),
        ({"kind": "reject", "code": -1013, "msg": "Filter failure: LOT_SIZE"}, ccxt.InvalidOrder),
    ],
)
def test_emulator_async_fault_maps_to_ccxt_exception(emulator: EmulatorHandle, fault: dict, expected: type) -> None:
    emulator.add_fault("POST /api/v3/order", **fault)

    async def scenario(client):
        with pytest.raises(expected):
            await client.create_order("ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC"})

    _run(emulator, scenario, timeout_ms=300)
