"""Simulated Aave lending: liquidation rules (close factor, bonus, protocol fee, dust, bad debt)
and interest, checked against values worked out by hand from notes A5/A6."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backtest.lending import (
    RAY,
    DebtBook,
    MustNotLeaveDust,
    NotLiquidatable,
    apr_to_ray,
    compounded_interest_ray,
    debt_for_health_factor,
    liquidate_max,
    liquidation_call,
    weth_usdt_position,
)
from bot.domain.position import Rounding, health_factor_wad

E18, E6, E8 = 10**18, 10**6, 10**8


def position(weth: str, usdt: str, price: int = 2_000, rounding: Rounding = Rounding.V3_5):
    return weth_usdt_position(
        collateral_units=int(Decimal(weth) * E18),
        debt_units=int(Decimal(usdt) * E6),
        weth_price_base=price * E8,
        rounding=rounding,
    )


def test_liquidation_at_hf_above_095_repays_half_the_debt_with_5pct_bonus():
    # 10 WETH at $2,000 (LT 83 %) against 17,000 USDT: HF = 16,600 / 17,000 = 0.9765.
    pos = position("10", "17000")
    res = liquidation_call(pos, collateral="WETH", debt="USDT", debt_to_cover=10**30)
    assert res.close_factor_bps == 5_000
    assert res.debt_repaid == 8_500 * E6
    # 8,500 USDT / $2,000 = 4.25 WETH, × 1.05 = 4.4625 WETH seized.
    assert res.collateral_seized == 4_462_500_000_000_000_000
    # bonus = 4.4625 − 4.4625/1.05 = 0.2125 WETH; 10 % to the protocol.
    assert res.protocol_fee == 21_250_000_000_000_000
    assert res.position.reserve("WETH").collateral == 10 * E18 - 4_462_500_000_000_000_000
    assert res.position.reserve("USDT").debt == 8_500 * E6
    # The borrower lost the 5 % bonus: 4.4625 × 2,000 − 8,500 = $425.
    assert res.penalty_base(pos.reserve("WETH"), pos.reserve("USDT")) == 425 * E8


def test_liquidation_at_hf_095_or_below_may_repay_all_the_debt():
    pos = position("10", "17500")  # HF = 16,600 / 17,500 = 0.9486
    assert health_factor_wad(pos) <= 95 * E18 // 100
    res = liquidate_max(pos, collateral="WETH", debt="USDT")
    assert res.close_factor_bps == 10_000
    assert res.debt_repaid == 17_500 * E6
    assert res.collateral_seized == 9_187_500_000_000_000_000  # 8.75 WETH × 1.05
    assert res.position.reserve("USDT").debt == 0


def test_liquidation_below_2000_usd_is_not_limited_by_the_close_factor():
    # $1,960 of collateral, HF 0.98: under the $2,000 threshold the whole debt can go.
    pos = position("0.98", "1660")
    res = liquidate_max(pos, collateral="WETH", debt="USDT")
    assert res.close_factor_bps == 10_000
    assert res.position.reserve("USDT").debt == 0


def test_partial_liquidation_leaving_dust_reverts_and_liquidator_covers_it_all():
    pos = position("0.98", "1660")  # 100 % close factor, $1,660 of debt
    with pytest.raises(MustNotLeaveDust):
        liquidation_call(pos, collateral="WETH", debt="USDT", debt_to_cover=1_000 * E6)  # would leave $660 of debt
    assert liquidate_max(pos, collateral="WETH", debt="USDT").position.reserve("USDT").debt == 0


def test_liquidation_consuming_all_collateral_burns_the_rest_as_bad_debt():
    pos = position("1", "4000")  # $2,000 of collateral, HF 0.415: underwater
    res = liquidate_max(pos, collateral="WETH", debt="USDT")
    assert res.collateral_seized == E18
    # Debt bought with all the collateral: 2,000 / 1.05 = 1,904.761905 USDT (half-up percentDiv).
    assert res.debt_repaid == 1_904_761_905
    assert res.deficit == 4_000 * E6 - 1_904_761_905
    assert res.position.reserve("USDT").debt == 0


def test_healthy_position_cannot_be_liquidated():
    with pytest.raises(NotLiquidatable):
        liquidation_call(position("10", "16000"), collateral="WETH", debt="USDT", debt_to_cover=1)


def test_interest_one_year_at_5pct_is_just_under_continuous_compounding():
    factor = compounded_interest_ray(apr_to_ray("0.05"), 365 * 86_400) / RAY
    assert math.exp(0.05) - 1e-4 < factor < math.exp(0.05)


def test_debt_book_accrues_from_the_opening_time_and_repays_exactly():
    book = DebtBook.opened(1_000_000 * E6, rate_ray=apr_to_ray("0.05"), at=0).at(86_400)
    assert 1_000_136 * E6 < book.balance < 1_000_137 * E6  # ≈ 1e6 · 0.05/365
    assert book.repaid(book.balance).balance == 0


@settings(max_examples=60, deadline=None)
@given(hf=st.decimals(min_value="1.01", max_value="3", places=3), weth=st.integers(1, 1_000_000))
def test_debt_for_health_factor_gives_that_health_factor(hf, weth):
    units = debt_for_health_factor(collateral_units=weth * E18, price_base=2_345 * E8, lt_bps=8_300, hf=hf)
    pos = weth_usdt_position(collateral_units=weth * E18, debt_units=units, weth_price_base=2_345 * E8)
    assert abs(Decimal(health_factor_wad(pos)) / E18 - hf) < Decimal("1e-6")
