"""The planner's closed-form sizing gives exactly the domain searches' answers."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain import Position, Reserve, health_factor_wad, max_withdraw, repay_for_target
from bot.domain.position import Rounding
from bot.domain.sizing import after_repay, after_withdraw
from bot.engine import fast_sizing
from bot.engine.fast_sizing import max_withdraw_fast, repay_for_target_fast

D = Decimal
E8 = 10**8
WAD = 10**18
EXAMPLES = int(os.environ.get("DELEVER_PROPERTY_EXAMPLES", "60")) * 5
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# symbol, decimals, LT choices
COLLATERALS = (("WETH", 18, (7800, 8250, 8300, 8600)), ("WBTC", 8, (7300, 7800)), ("USDC", 6, (7800, 8700)))
DEBTS = (("USDT", 6), ("DAI", 18))


@st.composite
def positions(draw: st.DrawFn) -> Position:
    """1–3 collaterals, 1–2 debts, either rounding, HF drawn around the floors the tests use."""
    n_coll = draw(st.integers(1, 3))
    reserves = []
    value = D(0)
    for symbol, decimals, lts in COLLATERALS[:n_coll]:
        price = draw(st.integers(1, 10**13))  # $0.00000001 … $100,000
        units = draw(st.integers(0, 10**6)) * 10**decimals // draw(st.sampled_from([1, 7, 1000, 10**6]))
        lt = draw(st.sampled_from(lts))
        reserves.append(Reserve(symbol, decimals, price, lt - 300, lt, 10500, collateral=units))
        value += D(units) * price / 10**decimals * lt / 10_000
    hf = D(draw(st.integers(300, 4000))) / 1000
    n_debt = draw(st.integers(1, 2))
    for symbol, decimals in DEBTS[:n_debt]:
        price = draw(st.integers(99_000_000, 101_000_000))
        debt = int(value / n_debt / hf / price * 10**decimals) + draw(st.integers(0, 3))
        reserves.append(Reserve(symbol, decimals, price, 0, 0, 0, debt=debt))
    return Position(tuple(reserves), rounding=draw(st.sampled_from(list(Rounding))))


floors = st.integers(0, 4000).map(lambda milli: milli * 10**15)


@PROPERTY
@given(positions(), floors, st.sampled_from(["WETH", "WBTC", "USDC"]))
def test_max_withdraw_fast_equals_the_bisection(pos: Position, floor: int, symbol: str) -> None:
    assume(pos.has(symbol))
    fast = max_withdraw_fast(pos, symbol, min_hf_wad=floor)
    assert fast == max_withdraw(pos, symbol, min_hf_wad=floor)
    if 0 < fast < pos.reserve(symbol).collateral:  # the boundary itself: this many is safe, one more is not
        assert health_factor_wad(after_withdraw(pos, symbol, fast)) >= floor
        assert health_factor_wad(after_withdraw(pos, symbol, fast + 1)) < floor


@PROPERTY
@given(positions(), floors, st.sampled_from(["USDT", "DAI"]))
def test_repay_for_target_fast_equals_the_bisection(pos: Position, target: int, symbol: str) -> None:
    assume(pos.has(symbol))
    fast = repay_for_target_fast(pos, symbol, target_hf_wad=target)
    assert fast == repay_for_target(pos, symbol, target_hf_wad=target)
    if fast:  # the least: this much reaches the target, one unit less does not
        assert health_factor_wad(after_repay(pos, symbol, fast)) >= target
        assert health_factor_wad(after_repay(pos, symbol, fast - 1)) < target


def _weth_usdt(rounding: Rounding) -> Position:
    return Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=1000 * WAD),
            Reserve("USDT", 6, 100_010_000, 7500, 7800, 10450, debt=1_200_000 * 10**6),
        ),
        rounding=rounding,
    )


@pytest.mark.parametrize("rounding", list(Rounding))
def test_one_collateral_is_sized_without_a_search(monkeypatch, rounding: Rounding) -> None:
    pos = _weth_usdt(rounding)
    expected_withdraw = max_withdraw(pos, "WETH", min_hf_wad=WAD * 105 // 100)
    expected_repay = repay_for_target(pos, "USDT", target_hf_wad=WAD * 18 // 10)

    def no_search(*args: object) -> int:
        raise AssertionError("searched")

    monkeypatch.setattr(fast_sizing, "_bisect", no_search)
    monkeypatch.setattr(fast_sizing, "repay_for_target", no_search)
    assert max_withdraw_fast(pos, "WETH", min_hf_wad=WAD * 105 // 100) == expected_withdraw
    assert repay_for_target_fast(pos, "USDT", target_hf_wad=WAD * 18 // 10) == expected_repay
    # 1,000 WETH at $2,000 × 0.83 against $1,200,120 debt: HF 1.3832…; the floor 1.05 leaves ≈ 240.9 WETH
    assert 240 * WAD < expected_withdraw < 241 * WAD
    assert 277_000 * 10**6 < expected_repay < 278_000 * 10**6  # down to $922,222 of debt for HF 1.8
