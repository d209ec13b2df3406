"""The trading core without HTTP: limits hold, balances are conserved, ids behave as Binance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.clock import ManualClock
from bot.devnet.exchange.apierrors import ApiError
from bot.devnet.exchange.config import DepthProfile, EmulatorConfig
from bot.devnet.exchange.matching import Exchange
from bot.devnet.exchange.prices import PriceBoard

KEY = "k" * 64


def _exchange(price: Decimal = Decimal(3000), balances: dict | None = None, **profile) -> Exchange:
    config = EmulatorConfig(
        api_key=KEY,
        api_secret="s" * 64,
        clock=ManualClock(),
        prices={"ETHUSDT": price, "BTCUSDT": Decimal(100_000)},
        depth={"ETHUSDT": DepthProfile(**profile)} if profile else EmulatorConfig().depth,
    )
    exchange = Exchange(config, PriceBoard({m.symbol: m for m in config.markets}, config.prices))
    exchange.add_account(
        KEY, "s" * 64, balances if balances is not None else {"ETH": Decimal(10_000), "USDT": Decimal(10_000_000)}
    )
    return exchange


def _order(exchange: Exchange, **params) -> dict:
    base = {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC"}
    return exchange.place_order(exchange.accounts[KEY], {**base, **{k: str(v) for k, v in params.items()}})


@settings(max_examples=60, deadline=None)
@given(
    price=st.decimals(min_value=100, max_value=10_000, places=2),
    depth=st.integers(min_value=50_000, max_value=20_000_000),
    shape=st.sampled_from(["linear", "sqrt"]),
    spread=st.integers(min_value=0, max_value=50),
    level_bps=st.integers(min_value=1, max_value=20),
    cap_bps=st.integers(min_value=0, max_value=300),
    qty=st.decimals(min_value=Decimal("0.01"), max_value=3000, places=4),
    pre_eaten=st.decimals(min_value=0, max_value=500, places=4),
)
def test_matching_ioc_sell_never_fills_below_its_limit(
    price, depth, shape, spread, level_bps, cap_bps, qty, pre_eaten
) -> None:
    exchange = _exchange(
        price,
        depth_usd_1pct=Decimal(depth),
        shape=shape,
        spread_bps=Decimal(spread),
        level_bps=Decimal(level_bps),
        levels=200,
    )
    if pre_eaten * price >= 5:
        _order(exchange, type="MARKET", quantity=pre_eaten, timeInForce="")  # an earlier sweep thins the top
    limit = (price * (10_000 - cap_bps) / 10_000).quantize(Decimal("0.01"))
    assume(5 <= qty * limit <= 9_000_000)  # outside the NOTIONAL filter: rejected, tested elsewhere
    account = exchange.accounts[KEY]
    eth_before, usdt_before = account.free["ETH"], account.free["USDT"]
    result = _order(exchange, quantity=qty, price=limit)
    fills = result["fills"]
    assert all(Decimal(f["price"]) >= limit for f in fills)
    filled = sum((Decimal(f["qty"]) for f in fills), Decimal(0))
    assert filled == Decimal(result["executedQty"]) <= qty
    assert result["status"] == ("FILLED" if filled == qty else "EXPIRED")
    proceeds = sum((Decimal(f["price"]) * Decimal(f["qty"]) - Decimal(f["commission"]) for f in fills), Decimal(0))
    assert account.free["ETH"] == eth_before - filled and account.locked["ETH"] == 0
    assert account.free["USDT"] == usdt_before + proceeds


def test_matching_buy_limit_never_pays_above_its_limit_and_refunds_improvement() -> None:
    exchange = _exchange()
    result = _order(exchange, side="BUY", quantity=Decimal(50), price=Decimal("3003.00"))
    assert all(Decimal(f["price"]) <= Decimal("3003.00") for f in result["fills"])
    account = exchange.accounts[KEY]
    assert account.locked["USDT"] == 0
    spent = sum((Decimal(f["price"]) * Decimal(f["qty"]) for f in result["fills"]), Decimal(0))
    assert account.free["USDT"] == Decimal(10_000_000) - spent


def test_matching_market_buy_by_quote_quantity_spends_at_most_it() -> None:
    exchange = _exchange()
    result = _order(exchange, side="BUY", type="MARKET", quoteOrderQty=Decimal(10_000), timeInForce="")
    assert Decimal(result["cummulativeQuoteQty"]) <= Decimal(10_000)
    assert Decimal(result["executedQty"]) == Decimal(result["origQty"]) > 0


def test_matching_gtc_partially_filled_rests_with_the_remainder_locked() -> None:
    exchange = _exchange(depth_usd_1pct=Decimal(100_000))
    result = _order(exchange, quantity=Decimal(100), price=Decimal(2990), timeInForce="GTC")
    assert result["status"] == "PARTIALLY_FILLED"
    account = exchange.accounts[KEY]
    assert account.locked["ETH"] == Decimal(100) - Decimal(result["executedQty"])


def test_matching_fok_without_enough_depth_expires_unfilled() -> None:
    exchange = _exchange(depth_usd_1pct=Decimal(100_000))
    result = _order(exchange, quantity=Decimal(100), price=Decimal(2990), timeInForce="FOK")
    assert result["status"] == "EXPIRED" and Decimal(result["executedQty"]) == 0


def test_matching_limit_maker_that_would_take_is_rejected() -> None:
    with pytest.raises(ApiError) as error:
        _order(_exchange(), type="LIMIT_MAKER", quantity=Decimal(1), price=Decimal(2900), timeInForce="")
    assert error.value.code == -2010 and error.value.msg == "Order would immediately match and take."


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"quantity": "1.00001", "price": "3000"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.00001", "price": "3000"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "1", "price": "3000.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "0.001", "price": "3000"}, -1013, "Filter failure: NOTIONAL"),
        ({"quantity": "1", "price": "3000", "symbol": "DOGEUSDT"}, -1121, "Invalid symbol."),
        ({"price": "3000"}, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."),
        ({"quantity": "1", "price": "3000", "timeInForce": "GTX"}, -1115, "Invalid timeInForce."),
        ({"quantity": "20000", "price": "3"}, -2010, "Account has insufficient balance for requested action."),
    ],
)
def test_matching_rejections_use_binance_codes(params: dict, code: int, msg: str) -> None:
    with pytest.raises(ApiError) as error:
        _order(_exchange(), **params)
    assert (error.value.code, error.value.msg) == (code, msg)


def test_matching_duplicate_client_id_rejected_only_while_open() -> None:
    exchange = _exchange()
    _order(exchange, quantity=1, price=3100, timeInForce="GTC", newClientOrderId="dup")
    with pytest.raises(ApiError) as error:
        _order(exchange, quantity=1, price=3100, timeInForce="GTC", newClientOrderId="dup")
    assert error.value.msg == "Duplicate order sent."
    first = _order(exchange, quantity=1, price=2990, newClientOrderId="ioc")
    second = _order(exchange, quantity=1, price=2990, newClientOrderId="ioc")
    assert first["orderId"] != second["orderId"]
    found = exchange.query_order(exchange.accounts[KEY], {"symbol": "ETHUSDT", "origClientOrderId": "ioc"})
    assert found["orderId"] == second["orderId"]  # the most recent one, as Binance


def test_matching_sell_fee_in_quote_and_buy_fee_in_base() -> None:
    exchange = _exchange()
    sell = _order(exchange, quantity=1, price=2990)
    assert [f["commissionAsset"] for f in sell["fills"]] == ["USDT"]
    assert Decimal(sell["fills"][0]["commission"]) == (Decimal(sell["fills"][0]["price"]) * Decimal("0.001")).quantize(
        Decimal("1e-8")
    )
    buy = _order(exchange, side="BUY", quantity=1, price=3010)
    assert [f["commissionAsset"] for f in buy["fills"]] == ["ETH"] and buy["fills"][0]["commission"] == "0.00100000"
