"""Planner properties over random positions, books and limits: the floor holds at the shocked
price after every withdrawal, nothing sells below the cap price, every limit and minimum is
respected, and the target is reached whenever depth and limits allow it."""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain import (
    Level,
    OrderBook,
    Position,
    Reserve,
    Snapshot,
    after_repay,
    after_withdraw,
    decimal_to_wad,
    health_factor_wad,
    max_withdraw,
    shocked,
)
from bot.domain.position import Rounding
from bot.engine.book_model import synthetic_book
from bot.engine.fast_sizing import max_withdraw_fast
from bot.engine.plan_types import MarketModel, PlanLimits, PlanStatus
from bot.engine.planner import default_rules, plan
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E8 = 10**8
WAD = 10**18
T0 = 1_770_000_000

# More with DELEVER_PROPERTY_EXAMPLES=1000 (a few minutes).
EXAMPLES = int(os.environ.get("DELEVER_PROPERTY_EXAMPLES", "60"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def positions(draw: st.DrawFn) -> Position:
    price = draw(st.integers(200, 8000))
    q = draw(st.integers(1, 200_000)) * WAD // draw(st.sampled_from([1, 10, 1000]))
    hf = D(draw(st.integers(1000, 2500))) / 1000
    lt = draw(st.sampled_from([7800, 8250, 8300, 8600]))
    debt = int(D(q) / WAD * price * lt / 10_000 / hf * 10**6)
    assume(debt > 10**6)
    reserves = [
        Reserve("WETH", 18, price * E8, lt - 300, lt, 10500, collateral=q),
        Reserve("USDT", 6, draw(st.integers(99_800_000, 100_100_000)), 7500, 7800, 10450, debt=debt),
    ]
    if draw(st.booleans()):  # a second, stable collateral (not shocked)
        reserves.append(Reserve("USDC", 6, E8, 7500, 7800, 10450, collateral=draw(st.integers(0, 10**6)) * 10**6))
    return Position(tuple(reserves), rounding=draw(st.sampled_from(list(Rounding))))


@st.composite
def books(draw: st.DrawFn, mid: Decimal) -> OrderBook:
    if draw(st.booleans()):
        return synthetic_book(mid, D(draw(st.integers(10_000, 20_000_000))))
    n = draw(st.integers(1, 30))
    price = (mid * (1 + D(draw(st.integers(-80, 30))) / 10_000)).quantize(D("0.01"))
    bids = []
    for _ in range(n):
        if price <= D("0.01"):
            break
        bids.append(Level(price, D(draw(st.integers(1, 5_000_000))) / 1000))
        price -= max(D("0.01"), (price * D(draw(st.integers(1, 40))) / 10_000).quantize(D("0.01")))
    return OrderBook("ETH/USDT", tuple(bids), (Level(bids[0].price + D("0.01"), D(1)),))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Snapshot, Intent, PlanLimits, MarketModel, object]:
    pos = draws_pos = draw(positions())
    mid = D(draws_pos.reserve("WETH").price) / D(draws_pos.reserve("USDT").price)
    book = draw(books(mid))
    limits = plan_limits(
        hf_floor=D(draw(st.integers(1000, 1300))) / 1000,
        max_slippage_bps=draw(st.integers(5, 300)),
        price_shock_bps=draw(st.integers(0, 1500)),
        max_batch_usd=draw(st.none() | st.integers(50, 10**7).map(D)),
        max_daily_usd=draw(st.none() | st.integers(100, 10**8).map(D)),
        min_batch_usd=D(draw(st.integers(0, 500))),
        max_batch_qty=draw(st.none() | st.integers(1, 10**5).map(D)),
        sold_today_usd=D(draw(st.integers(0, 1000))),
        max_batches=30,
    )
    rules = replace(
        default_rules(),
        min_notional=D(draw(st.integers(1, 100))),
        step_size=draw(st.sampled_from([D("0.0001"), D("0.001"), D("0.01")])),
    )
    target = draw(st.none() | st.integers(1050, 3000).map(lambda x: D(x) / 1000))
    max_sell = draw(st.none() | st.integers(1, 10**5).map(D))
    intent = Intent(target_hf=target, max_sell=max_sell)
    market = MarketModel(refill_half_life_s=draw(st.none() | st.integers(1, 3600)))
    wallet = {"USDT": draw(st.integers(0, 10**6)) * 10**6} if draw(st.booleans()) else {}
    snap = Snapshot(pos, 1, T0 + draw(st.integers(0, 86_400)), book=book, wallet_balances=wallet)
    return snap, intent, limits, market, rules


def replay(snapshot: Snapshot, batches):  # type: ignore[no-untyped-def]
    """Yield (position before, position after withdraw, position after repay) per batch."""
    pos = snapshot.position
    for b in batches:
        mid = after_withdraw(pos, b.collateral, b.withdraw_units)
        end = after_repay(mid, b.debt, b.repay_units)
        yield pos, mid, end
        pos = end


@PROPERTY
@given(cases())
def test_every_batch_holds_the_floor_caps_the_price_and_respects_the_limits(case) -> None:  # type: ignore[no-untyped-def]
    snapshot, intent, limits, market, rules = case
    result = plan(snapshot, intent, limits=limits, market=market, rules=rules)
    floor = decimal_to_wad(limits.hf_floor)
    volatile = {"WETH"}
    sold_by_day: dict[int, Decimal] = {}
    total_sold = D(0)
    for (_, mid, end), b in zip(replay(snapshot, result.batches), result.batches):
        assert b.hf_after_repay_wad == health_factor_wad(end)
        if b.kind != "unwind":
            assert b.withdraw_units == 0
            continue
        qty = b.withdraw_amount
        # The HF floor holds at the shocked price while the collateral is in transit.
        assert result.shock_bps >= limits.price_shock_bps
        assert health_factor_wad(shocked(mid, shock_bps=result.shock_bps, symbols=volatile)) >= floor
        # Nothing sells below the cap price, and the cap price honours the slippage cap.
        assert b.floor_price >= b.reference_price * (10_000 - limits.max_slippage_bps) / 10_000
        assert b.worst_price >= b.floor_price and b.expected_price >= b.floor_price
        # Lot step, exchange minimums, batch minimum.
        assert qty % rules.step_size == 0
        assert qty >= rules.min_qty and b.gross_quote >= rules.min_notional
        assert qty * b.floor_price >= limits.min_batch_usd
        # Per-batch and per-day limits.
        if limits.max_batch_usd is not None:
            assert qty * b.reference_price <= limits.max_batch_usd
        if limits.max_batch_qty is not None:
            assert qty <= limits.max_batch_qty
        day = (snapshot.timestamp + b.start_s) // 86_400
        sold_by_day[day] = sold_by_day.get(day, D(0)) + qty * b.reference_price
        total_sold += qty
        # Repay never exceeds the proceeds net of fees.
        assert D(b.repay_units) / 10**b.debt_decimals <= b.gross_quote - b.fee_quote
    if limits.max_daily_usd is not None:
        today = snapshot.timestamp // 86_400
        for day, usd in sold_by_day.items():
            assert usd + (limits.sold_today_usd if day == today else 0) <= limits.max_daily_usd
    if intent.max_sell is not None:
        assert total_sold <= intent.max_sell
    assert len(result.batches) <= limits.max_batches + 1
    if result.status is PlanStatus.BLOCKED:
        assert all(b.kind != "unwind" for b in result.batches)


@st.composite
def reachable_cases(draw: st.DrawFn) -> tuple[Snapshot, Intent, PlanLimits]:
    """Ample depth, no limits, a start safely above the shocked floor: the target is reachable."""
    price = draw(st.integers(200, 8000))
    # Large enough that the fixed fees (1 USDT per exchange withdrawal) do not eat the batches.
    q = draw(st.integers(100_000 // price + 1, 50_000)) * WAD
    floor = D(draw(st.integers(1000, 1200))) / 1000
    shock = draw(st.integers(0, 1000))
    floor_at_shock = floor / (1 - D(shock) / 10_000)
    hf = floor_at_shock * (1 + D(draw(st.integers(30, 800))) / 1000)
    debt = int(D(q) / WAD * price * D("0.83") / hf * 10**6)
    pos = Position(
        (
            Reserve("WETH", 18, price * E8, 8050, 8300, 10500, collateral=q),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )
    value = D(q) / WAD * price
    book = synthetic_book(D(price), max(value * 50, D(10**6)))
    target = draw(st.none() | st.integers(1, 1500).map(lambda x: hf + D(x) / 1000))
    limits = plan_limits(
        hf_floor=floor, max_slippage_bps=draw(st.integers(20, 200)), price_shock_bps=shock, max_batches=200
    )
    return Snapshot(pos, 1, T0, book=book), Intent(target_hf=target), limits


@PROPERTY
@given(reachable_cases())
def test_plan_reaches_the_target_when_depth_and_limits_allow(case) -> None:  # type: ignore[no-untyped-def]
    snapshot, intent, limits = case
    result = plan(snapshot, intent, limits=limits, market=MarketModel(refill_half_life_s=None))
    assert result.status is PlanStatus.REACHES_TARGET, (result.stop_reason, result.notes, result.warnings)
    if intent.target_hf is None:
        assert result.final_health_factor is None and result.batches[-1].repay_all
    else:
        assert result.final_health_factor >= intent.target_hf


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(positions(), st.integers(1000, 3000), st.integers(0, 3000))
def test_fast_max_withdraw_equals_the_domain_search(pos: Position, floor_milli: int, shock: int) -> None:
    shocked_pos = shocked(pos, shock_bps=shock, symbols={"WETH"})
    floor = decimal_to_wad(D(floor_milli) / 1000)
    assert max_withdraw_fast(shocked_pos, "WETH", min_hf_wad=floor) == max_withdraw(
        shocked_pos, "WETH", min_hf_wad=floor
    )
