"""Rounding and exact parsing helpers used on the order path."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.venue.calls import MalformedResponse
from bot.adapters.venue.fills import (
    OrderState,
    TradeFill,
    book_order,
    dec,
    fills_in_trades,
    order_state,
    plain,
    round_down,
    round_up,
)
from bot.adapters.venue.orders import tradable
from bot.ports import MarketRules

D = Decimal
RULES = MarketRules("ETH/USDT", "ETH", "USDT", D("0.01"), D("0.0001"), D("0.0001"), D("5"), D("0.001"))
STEPS = st.sampled_from([D("0.0001"), D("0.001"), D("1"), D("10"), D("0.00000001")])
AMOUNTS = st.decimals(min_value=D("0"), max_value=D("1000000"), places=10, allow_nan=False, allow_infinity=False)


@given(qty=AMOUNTS, step=STEPS)
def test_round_down_is_a_step_multiple_at_most_qty_within_one_step(qty: Decimal, step: Decimal) -> None:
    rounded = round_down(qty, step)
    assert rounded <= qty < rounded + step
    assert (rounded / step) == (rounded / step).to_integral_value()


@given(price=AMOUNTS, tick=STEPS)
def test_round_up_is_a_tick_multiple_at_least_price_within_one_tick(price: Decimal, tick: Decimal) -> None:
    rounded = round_up(price, tick)
    assert rounded - tick < price <= rounded


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1E+1"), "10"),
        (D("3.50000000"), "3.5"),
        (D("0.0001"), "0.0001"),
        (D("2950.00"), "2950"),
        (D("0"), "0"),
        (D("1E-8"), "0.00000001"),
    ],
)
def test_plain_never_uses_exponents_or_trailing_zeros(value: Decimal, text: str) -> None:
    assert plain(value) == text


@pytest.mark.parametrize(
    ("qty", "price", "ok"),
    [
        (D("0.0017"), D("3000"), True),  # 5.1 USDT
        (D("0.0016"), D("3000"), False),  # 4.8 USDT: below min notional
        (D("0.00015"), D("100000"), False),  # not a lot-step multiple
        (D("0"), D("3000"), False),
    ],
)
def test_tradable_checks_lot_step_min_qty_and_min_notional(qty: Decimal, price: Decimal, ok: bool) -> None:
    assert tradable(qty, price, RULES) is ok


def test_dec_reads_strings_exactly_and_floats_by_shortest_repr() -> None:
    assert dec("0.10000000") == D("0.1")
    assert dec(0.1) == D("0.1")
    assert dec(2999.85) == D("2999.85")


@pytest.mark.parametrize("bad", [None, "abc", "NaN", "Infinity", True])
def test_dec_refuses_what_is_not_a_finite_number(bad: object) -> None:
    with pytest.raises(MalformedResponse):
        dec(bad)


def test_order_state_without_id_is_malformed() -> None:
    with pytest.raises(MalformedResponse):
        order_state({"id": None, "status": None, "info": {}})


def test_order_state_for_another_client_id_is_malformed() -> None:
    with pytest.raises(MalformedResponse):
        order_state(
            {"id": "1", "info": {"orderId": 1, "clientOrderId": "x", "status": "FILLED", "executedQty": "1"}},
            expected_client_order_id="y",
        )


def test_book_order_requires_fills_covering_executed_quantity() -> None:
    state = OrderState("1", "c", "EXPIRED", D("2"), D("6000"))
    with pytest.raises(MalformedResponse):
        book_order(
            state,
            [TradeFill(D("3000"), D("1"), D("3"), "USDT")],
            base="ETH",
            quote="USDT",
            price_in_quote=lambda a: D(0),
        )


def test_book_order_partial_fill_sums_fees_in_quote_exactly() -> None:
    state = OrderState("1", "c", "EXPIRED", D("1.5"), D("4497"))
    fills = [TradeFill(D("3000"), D("1"), D("3"), "USDT"), TradeFill(D("2994"), D("0.5"), D("0.0005"), "ETH")]
    booked = book_order(state, fills, base="ETH", quote="USDT", price_in_quote=lambda a: D(0))
    assert (booked.filled, booked.gross_quote, booked.fee_quote) == (D("1.5"), D("4497"), D("3") + D("1.497"))


def test_fills_in_trades_keeps_only_the_order_and_reads_raw_strings() -> None:
    trades = [
        {
            "info": {
                "orderId": "7",
                "price": "3000.01",
                "qty": "0.1",
                "commission": "0.300001",
                "commissionAsset": "USDT",
            }
        },
        {"info": {"orderId": "8", "price": "1", "qty": "1", "commission": "0", "commissionAsset": "USDT"}},
    ]
    assert fills_in_trades(trades, "7") == [TradeFill(D("3000.01"), D("0.1"), D("0.300001"), "USDT")]
