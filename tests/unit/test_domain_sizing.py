"""Sizing: largest safe withdrawal, repay to a target, batch effects, order-book walks."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain import (
    Level,
    Position,
    Reserve,
    Rounding,
    after_withdraw,
    batch_effect,
    decimal_to_wad,
    depth_above,
    floor_price,
    health_factor_wad,
    liquidation_price_base,
    max_withdraw,
    repay_for_target,
    shocked,
    walk_bids,
)
from bot.domain.sizing import after_repay

E8 = 10**8
WAD = 10**18


def position(q_weth: int, price_usd: int, debt_usdt: int, rounding: Rounding = Rounding.V3_0) -> Position:
    return Position(
        (
            Reserve("WETH", 18, price_usd * E8, 8050, 8300, 10500, collateral=q_weth),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt_usdt),
        ),
        rounding=rounding,
    )


def test_max_withdraw_worked_example() -> None:
    # 100 WETH at $2,000 (LT 83 %) against 100,000 USDT: HF 1.66. Floor 1.2 → keep
    # 1.2 × 100,000 / (2,000 × 0.83) = 72.289… WETH, so ≈ 27.71 WETH may leave.
    pos = position(100 * WAD, 2000, 100_000 * 10**6)
    w = max_withdraw(pos, "WETH", min_hf_wad=decimal_to_wad("1.2"))
    # The contract floors values to 1e-8 USD and rounds wadDiv half up, so the exact maximum
    # sits within a hair of the real-number answer 27.710843373493975903…
    assert abs(Decimal(w) / WAD - Decimal("27.710843373493975903")) < Decimal("1e-11")
    assert health_factor_wad(after_withdraw(pos, "WETH", w)) >= decimal_to_wad("1.2")
    assert health_factor_wad(after_withdraw(pos, "WETH", w + 1)) < decimal_to_wad("1.2")


def test_max_withdraw_is_zero_below_the_floor_and_everything_without_debt() -> None:
    pos = position(100 * WAD, 2000, 100_000 * 10**6)
    assert max_withdraw(pos, "WETH", min_hf_wad=decimal_to_wad("1.7")) == 0
    assert max_withdraw(position(5 * WAD, 2000, 0), "WETH", min_hf_wad=decimal_to_wad("1.7")) == 5 * WAD


def test_shock_lowers_the_safe_withdrawal() -> None:
    pos = position(100 * WAD, 2000, 100_000 * 10**6)
    floor = decimal_to_wad("1.05")
    calm = max_withdraw(pos, "WETH", min_hf_wad=floor)
    stressed = max_withdraw(shocked(pos, shock_bps=500, symbols={"WETH"}), "WETH", min_hf_wad=floor)
    assert stressed < calm
    assert shocked(pos, shock_bps=500, symbols={"WETH"}).reserve("WETH").price == 1900 * E8


def test_repay_for_target_worked_example() -> None:
    # HF 1.2375 → 1.6 with 10 WETH at $1,500, LT 82.5 %: debt must fall to 7,734.375 USDC.
    pos = Position(
        (
            Reserve("WETH", 18, 1500 * E8, 8000, 8250, 10500, collateral=10 * WAD),
            Reserve("USDC", 6, E8, 7700, 8000, 10450, debt=10_000 * 10**6),
        )
    )
    assert repay_for_target(pos, "USDC", target_hf_wad=decimal_to_wad("1.6")) == 2_265_625_000
    assert repay_for_target(pos, "USDC", target_hf_wad=decimal_to_wad("1.1")) == 0


def test_batch_raises_hf_when_sold_above_lt_times_liquidation_price() -> None:
    pos = position(100 * WAD, 2000, 120_000 * 10**6)  # HF 1.3833, P_liq ≈ 1,445.78
    effect = batch_effect(pos, collateral="WETH", amount=10 * WAD, debt="USDT", net_price=Decimal("1300"))
    assert effect.repaid == 13_000 * 10**6
    assert effect.hf_after_withdraw_wad < health_factor_wad(pos) < effect.hf_after_repay_wad


# ---- properties -------------------------------------------------------------------------

single = st.builds(
    position,
    q_weth=st.integers(min_value=10**15, max_value=10**6 * WAD),
    price_usd=st.integers(min_value=100, max_value=10_000),
    debt_usdt=st.integers(min_value=10**6, max_value=10**16),
    rounding=st.sampled_from(list(Rounding)),
)
floors = st.decimals(min_value=Decimal("1.0"), max_value=Decimal("3"), places=4)


@given(single, floors)
@settings(max_examples=400)
def test_max_withdraw_is_exactly_the_largest_safe_amount(pos: Position, floor: Decimal) -> None:
    floor_wad = decimal_to_wad(floor)
    w = max_withdraw(pos, "WETH", min_hf_wad=floor_wad)
    if health_factor_wad(pos) < floor_wad:
        assert w == 0
        return
    assert health_factor_wad(after_withdraw(pos, "WETH", w)) >= floor_wad
    if w < pos.reserve("WETH").collateral:
        assert health_factor_wad(after_withdraw(pos, "WETH", w + 1)) < floor_wad


@given(single, floors)
@settings(max_examples=400)
def test_repay_for_target_is_exactly_the_smallest_sufficient_amount(pos: Position, target: Decimal) -> None:
    target_wad = decimal_to_wad(target)
    r = repay_for_target(pos, "USDT", target_hf_wad=target_wad)
    if r is None:
        assert health_factor_wad(after_repay(pos, "USDT", pos.reserve("USDT").debt)) < target_wad
        return
    assert health_factor_wad(after_repay(pos, "USDT", r)) >= target_wad
    if r > 0:
        assert health_factor_wad(after_repay(pos, "USDT", r - 1)) < target_wad


@given(
    single,
    st.integers(min_value=1, max_value=10_000),
    st.decimals(min_value=Decimal("1.001"), max_value=Decimal("3"), places=3),
)
@settings(max_examples=400)
def test_batch_raises_hf_whenever_net_price_beats_lt_times_liquidation_price(
    pos: Position, fraction_bps: int, premium: Decimal
) -> None:
    q = pos.reserve("WETH").collateral
    amount = q * fraction_bps // 10_000
    p_liq = liquidation_price_base(pos, "WETH")
    assume(amount > 0 and p_liq)
    hf0 = health_factor_wad(pos)
    assume(hf0 < 100 * WAD)  # debt not negligible: rounding dust cannot decide the outcome
    breakeven = Decimal(p_liq) / E8 * Decimal("0.83")  # LT × P_liq, whole USDT per WETH
    effect = batch_effect(pos, collateral="WETH", amount=amount, debt="USDT", net_price=breakeven * premium)
    assume(effect.repaid >= 10**4)  # at least one cent repaid, so the sale is not lost in truncation
    assert effect.hf_after_repay_wad >= hf0


bids_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=500_000), st.integers(min_value=0, max_value=10**6)),
    min_size=0,
    max_size=40,
    unique_by=lambda t: t[0],
).map(lambda xs: tuple(Level(Decimal(p) / 100, Decimal(q) / 1000) for p, q in sorted(xs, reverse=True)))


@given(bids_strategy, st.integers(min_value=0, max_value=10**7), st.integers(min_value=1, max_value=500_000))
@settings(max_examples=400)
def test_book_walk_never_fills_below_the_limit(bids: tuple[Level, ...], qty: int, limit: int) -> None:
    limit_price = Decimal(limit) / 100
    fill = walk_bids(bids, Decimal(qty) / 1000, limit_price=limit_price)
    assert fill.qty <= Decimal(qty) / 1000
    assert fill.qty <= depth_above(bids, limit_price)
    if fill.qty:
        assert fill.worst_price is not None and fill.worst_price >= limit_price
        assert fill.avg_price is not None and fill.avg_price >= limit_price


def test_book_walk_worked_example() -> None:
    bids = (Level(Decimal(2000), Decimal(1)), Level(Decimal(1990), Decimal(2)), Level(Decimal(1980), Decimal(5)))
    fill = walk_bids(bids, Decimal("2.5"))
    assert fill.qty == Decimal("2.5") and fill.worst_price == 1990
    assert fill.avg_price == Decimal(4985) / Decimal("2.5")
    assert fill.slippage_bps(Decimal(2000)) == Decimal(30)
    capped = walk_bids(bids, Decimal(100), limit_price=floor_price(Decimal(2000), 50))
    assert capped.qty == 3 and capped.worst_price == 1990


def test_floor_price_rounds_up_to_the_tick() -> None:
    assert floor_price(Decimal("2000.00"), 33, tick=Decimal("0.01")) == Decimal("1993.40")
    assert floor_price(Decimal("2001.37"), 17, tick=Decimal("0.01")) == Decimal("1997.97")  # 1997.9670… rounded up
