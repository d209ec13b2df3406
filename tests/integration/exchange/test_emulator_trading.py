"""The unmodified ccxt.binance (sync) trading against the emulator over HTTP."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from bot.devnet.exchange import EmulatorHandle
from tests.support.emulator import make_client

pytestmark = pytest.mark.integration


def test_emulator_load_markets_gives_binance_precision_and_limits(client: ccxt.binance) -> None:
    eth = client.market("ETH/USDT")
    btc = client.market("BTC/USDT")
    assert eth["id"] == "ETHUSDT" and eth["spot"] and eth["active"]
    assert eth["precision"]["price"] == 0.01 and eth["precision"]["amount"] == 0.0001
    assert btc["precision"]["amount"] == 0.00001
    assert eth["limits"]["cost"]["min"] == 5.0 and eth["limits"]["amount"]["min"] == 0.0001
    assert client.currencies["USDT"]["networks"]["ERC20"]["fee"] == 1.0


def test_emulator_order_book_spreads_around_reference_with_profile_depth(client: ccxt.binance) -> None:
    book = client.fetch_order_book("ETH/USDT", 1000)
    best_bid, best_ask = book["bids"][0][0], book["asks"][0][0]
    assert best_bid < 3000 < best_ask
    assert (best_ask - best_bid) / 3000 == pytest.approx(0.0001, rel=0.05)  # 1 bp spread
    within_1pct = sum(p * q for p, q in book["bids"] if p >= 3000 * 0.99)
    assert within_1pct == pytest.approx(5_000_000, rel=0.02)  # ±1 level
    assert all(a[0] > b[0] for a, b in zip(book["bids"], book["bids"][1:]))


def test_emulator_balance_reports_free_and_locked(client: ccxt.binance) -> None:
    client.create_order("ETH/USDT", "limit", "sell", 2, 3100, {"timeInForce": "GTC"})
    balance = client.fetch_balance()
    assert balance["ETH"] == {"free": 98.0, "used": 2.0, "total": 100.0}
    assert balance["USDT"]["free"] == 50_000.0


def test_emulator_ioc_sell_fully_filled_is_closed_with_fee_in_quote(client: ccxt.binance) -> None:
    order = client.create_order(
        "ETH/USDT", "limit", "sell", 1.5, 2990, {"timeInForce": "IOC", "clientOrderId": "ioc-full"}
    )
    assert order["status"] == "closed" and order["filled"] == 1.5 and order["remaining"] == 0
    assert order["clientOrderId"] == "ioc-full"
    assert order["average"] >= 2990
    assert order["fee"]["currency"] == "USDT"
    assert order["fee"]["cost"] == pytest.approx(order["cost"] * 0.001, rel=1e-6)
    balance = client.fetch_balance()
    assert balance["ETH"]["total"] == 98.5
    assert balance["USDT"]["total"] == pytest.approx(50_000 + order["cost"] * 0.999, abs=1e-6)


def test_emulator_ioc_sell_partially_filled_expires_with_filled_positive(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.set_depth("ETHUSDT", depth_usd_1pct=300_000)
    limit = 2985.0  # 50 bp under the reference: about $150k of bids above it
    order = client.create_order("ETH/USDT", "limit", "sell", 80, limit, {"timeInForce": "IOC"})
    assert order["status"] == "expired"
    assert 0 < order["filled"] < 80 and order["remaining"] == pytest.approx(80 - order["filled"])
    assert order["filled"] * 3000 == pytest.approx(150_000, rel=0.03)
    assert min(trade["price"] for trade in order["trades"]) >= limit
    assert client.fetch_balance()["ETH"]["used"] == 0.0  # the unfilled rest is released


def test_emulator_ioc_sell_above_best_bid_expires_unfilled(client: ccxt.binance) -> None:
    order = client.create_order("ETH/USDT", "limit", "sell", 1, 3050, {"timeInForce": "IOC"})
    assert order["status"] == "expired" and order["filled"] == 0 and order["remaining"] == 1
    assert client.fetch_balance()["ETH"] == {"free": 100.0, "used": 0.0, "total": 100.0}


def test_emulator_gtc_rests_then_cancel_releases_lock(client: ccxt.binance) -> None:
    order = client.create_order("ETH/USDT", "limit", "sell", 1, 3100, {"timeInForce": "GTC", "clientOrderId": "gtc-1"})
    assert order["status"] == "open"
    assert [o["id"] for o in client.fetch_open_orders("ETH/USDT")] == [order["id"]]
    fetched = client.fetch_order(None, "ETH/USDT", {"clientOrderId": "gtc-1"})
    assert fetched["id"] == order["id"] and fetched["status"] == "open"
    canceled = client.cancel_order(order["id"], "ETH/USDT")
    assert canceled["status"] == "canceled"
    assert client.fetch_order(order["id"], "ETH/USDT")["status"] == "canceled"
    assert client.fetch_balance()["ETH"]["used"] == 0.0
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order(order["id"], "ETH/USDT")


def test_emulator_gtc_fills_as_maker_when_price_moves_through_it(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    order = client.create_order("ETH/USDT", "limit", "sell", 1, 3100, {"timeInForce": "GTC"})
    emulator.set_price("ETHUSDT", 3200)
    fetched = client.fetch_order(order["id"], "ETH/USDT")
    assert fetched["status"] == "closed" and fetched["average"] == 3100
    trades = client.fetch_my_trades("ETH/USDT", params={"orderId": order["id"]})
    assert [t["takerOrMaker"] for t in trades] == ["maker"]


def test_emulator_market_buy_and_sell_walk_the_book(client: ccxt.binance) -> None:
    buy = client.create_order("ETH/USDT", "market", "buy", 2)
    assert buy["status"] == "closed" and buy["filled"] == 2 and buy["average"] > 3000
    assert buy["fee"]["currency"] == "ETH"
    sell = client.create_order("ETH/USDT", "market", "sell", 2)
    assert sell["status"] == "closed" and sell["average"] < 3000
    assert client.fetch_balance()["ETH"]["total"] == pytest.approx(100 - 0.002)


def test_emulator_my_trades_lists_fills_of_an_order(client: ccxt.binance) -> None:
    order = client.create_order("ETH/USDT", "limit", "sell", 40, 2990, {"timeInForce": "IOC"})
    trades = client.fetch_my_trades("ETH/USDT", params={"orderId": order["id"]})
    assert len(trades) >= 2
    assert sum(t["amount"] for t in trades) == pytest.approx(order["filled"])
    assert {t["side"] for t in trades} == {"sell"} and {t["fee"]["currency"] for t in trades} == {"USDT"}
    assert sum(t["cost"] for t in trades) == pytest.approx(order["cost"])


def test_emulator_min_notional_rejection_is_bad_request(client: ccxt.binance) -> None:
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        client.create_order("ETH/USDT", "limit", "sell", 0.001, 3000, {"timeInForce": "IOC"})


def test_emulator_lot_step_rejection_is_invalid_order(client: ccxt.binance) -> None:
    # ccxt truncates to the step itself, so send the raw request to hit the filter
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        client.privatePostOrder(
            {
                "symbol": "ETHUSDT",
                "side": "SELL",
                "type": "LIMIT",
                "timeInForce": "IOC",
                "quantity": "1.00005",
                "price": "3000",
            }
        )


def test_emulator_price_tick_rejection_is_invalid_order(client: ccxt.binance) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        client.privatePostOrder(
            {
                "symbol": "ETHUSDT",
                "side": "SELL",
                "type": "LIMIT",
                "timeInForce": "IOC",
                "quantity": "1",
                "price": "3000.005",
            }
        )


def test_emulator_insufficient_balance_is_insufficient_funds(client: ccxt.binance) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order("ETH/USDT", "limit", "sell", 101, 2990, {"timeInForce": "IOC"})


def test_emulator_bad_signature_is_authentication_error(emulator: EmulatorHandle) -> None:
    client = make_client(emulator)
    client.secret = "x" * 64
    with pytest.raises(ccxt.AuthenticationError):
        client.fetch_balance()


def test_emulator_unknown_api_key_is_authentication_error(emulator: EmulatorHandle) -> None:
    client = make_client(emulator)
    client.apiKey = "A" * 64
    with pytest.raises(ccxt.AuthenticationError):
        client.fetch_balance()


def test_emulator_client_order_id_unique_only_among_open_orders(client: ccxt.binance) -> None:
    first = client.create_order("ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC", "clientOrderId": "same"})
    second = client.create_order("ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC", "clientOrderId": "same"})
    assert first["id"] != second["id"]  # Binance accepts a re-sent id once the first is done
    assert client.fetch_balance()["ETH"]["total"] == 98.0
    client.create_order("ETH/USDT", "limit", "sell", 1, 3100, {"timeInForce": "GTC", "clientOrderId": "rest"})
    with pytest.raises(ccxt.InvalidOrder):
        client.create_order("ETH/USDT", "limit", "sell", 1, 3100, {"timeInForce": "GTC", "clientOrderId": "rest"})


def test_emulator_unknown_order_fetch_is_order_not_found(client: ccxt.binance) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, "ETH/USDT", {"clientOrderId": "never-sent"})


def test_emulator_ticker_time_status_and_all_orders(client: ccxt.binance) -> None:
    client.create_order("ETH/USDT", "limit", "sell", 1, 2990, {"timeInForce": "IOC"})
    ticker = client.fetch_ticker("ETH/USDT")
    assert ticker["bid"] < 3000 < ticker["ask"]
    assert abs(client.fetch_time() - client.milliseconds()) < 5_000
    assert client.fetch_status()["status"] == "ok"
    assert len(client.fetch_orders("ETH/USDT")) == 1


def test_emulator_unknown_route_is_404_and_logged(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    with pytest.raises(ccxt.BaseError):
        client.fapiPublicGetExchangeInfo()
    record = emulator.requests.records()[-1]
    assert record.status == 404 and record.path.endswith("/exchangeInfo")


def test_emulator_request_log_omits_signature(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    client.fetch_balance()
    record = emulator.requests.records(path="/api/v3/account")[-1]
    assert record.status == 200 and "signature" not in record.params and "timestamp" in record.params


def test_emulator_depth_refills_with_half_life_over_injected_time(
    emulator: EmulatorHandle, client: ccxt.binance, clock
) -> None:
    emulator.set_depth("ETHUSDT", half_life_s=60)
    before = sum(q for p, q in client.fetch_order_book("ETH/USDT", 1000)["bids"] if p >= 2985)
    order = client.create_order("ETH/USDT", "limit", "sell", 90, 2985, {"timeInForce": "IOC"})
    assert order["filled"] > 0
    eaten = sum(q for p, q in client.fetch_order_book("ETH/USDT", 1000)["bids"] if p >= 2985)
    assert eaten < before - order["filled"] * 0.99
    clock.advance(60)
    half = sum(q for p, q in client.fetch_order_book("ETH/USDT", 1000)["bids"] if p >= 2985)
    assert half == pytest.approx(before - (before - eaten) / 2, rel=0.01)
    clock.advance(600)
    assert sum(q for p, q in client.fetch_order_book("ETH/USDT", 1000)["bids"] if p >= 2985) == pytest.approx(
        before, rel=0.01
    )


def test_emulator_crash_regime_thins_the_book(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    emulator.set_depth("ETHUSDT", depth_usd_1pct=Decimal(1_500_000), shape="sqrt")
    book = client.fetch_order_book("ETH/USDT", 1000)
    within_1pct = sum(p * q for p, q in book["bids"] if p >= 3000 * 0.99)
    assert within_1pct == pytest.approx(1_500_000, rel=0.02)


def test_emulator_book_follows_a_scripted_price_path() -> None:
    from bot.clock import ManualClock
    from bot.devnet.exchange import EmulatorConfig, ScriptedPrice, start_emulator

    clock = ManualClock()
    path = ScriptedPrice([(0, 3000), (600, 2100)], clock)
    with start_emulator(EmulatorConfig(clock=clock, prices={"ETHUSDT": path, "BTCUSDT": Decimal(100_000)})) as handle:
        client = make_client(handle)
        assert client.fetch_order_book("ETH/USDT", 1)["bids"][0][0] == pytest.approx(3000, rel=1e-4)
        clock.advance(600)
        assert client.fetch_order_book("ETH/USDT", 1)["bids"][0][0] == pytest.approx(2100, rel=1e-4)
