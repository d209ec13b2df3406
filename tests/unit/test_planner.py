"""The planner: worked example, idle repays, the floor, limits, minimums, repay-all, the book
model, the shock from volatility, and plan JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.domain import Level, OrderBook, Position, Reserve, Snapshot, decimal_to_wad, health_factor_wad, shocked
from bot.domain.sizing import after_withdraw
from bot.engine.book_model import BookState, synthetic_book
from bot.engine.plan_types import MarketModel, PlanCosts, PlanStatus, TransferTimings
from bot.engine.planner import default_rules, no_action_plan, plan
from bot.engine.volatility import daily_volatility, shock_bps
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E8 = 10**8
WAD = 10**18
T0 = 1_770_000_000


def position(*, q: str = "100", price: int = 2000, hf: str = "1.25") -> Position:
    debt = int(D(q) * price * D("0.83") / D(hf) * 10**6)
    return Position(
        (
            Reserve("WETH", 18, price * E8, 8050, 8300, 10500, collateral=int(D(q) * WAD)),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )


def snap(pos: Position | None = None, *, depth: str = "5000000", price: int = 2000, **kw: object) -> Snapshot:
    book = synthetic_book(D(price), D(depth))
    return Snapshot(pos or position(price=price), 1, T0, book=book, **kw)  # type: ignore[arg-type]


LIMITS = plan_limits(hf_floor=D("1.05"), max_slippage_bps=50, price_shock_bps=300)


def test_worked_example_100_weth_hf_125_to_16_in_two_batches() -> None:
    # 100 WETH at $2,000 (LT 83 %) against 132,800 USDT: HF 1.25. Target 1.6, floor 1.05 at a
    # 3 % shock, $5M of bids within 1 %, 50 bps cap, 10 bps taker fee, 1 USDT withdrawal fee.
    result = plan(snap(), Intent.restore_hf("1.6"), limits=LIMITS)
    print()
    for b in result.batches:
        print(
            f"batch {b.index}: withdraw {b.withdraw_amount} WETH at {b.expected_price}, repay {b.repay_amount} USDT, "
            f"HF {b.hf_after_withdraw:.4f} (shocked {b.hf_after_withdraw_shocked_wad / WAD:.4f}) → {b.hf_after_repay:.4f}"
        )
    assert result.status is PlanStatus.REACHES_TARGET
    assert result.health_factor == D("1.25")
    assert [b.withdraw_amount for b in result.batches] == [D("13.4020"), D("16.8479")]
    first, second = result.batches
    # Batch 1 is the floor bound: keep 1.05 × 132,800 / (1,940 × 0.83) = 86.5979… WETH at the shocked price.
    assert first.limited_by == "floor" and second.limited_by == "target"
    assert first.hf_after_withdraw_shocked_wad >= decimal_to_wad("1.05")
    assert first.expected_price == D("1999.9") and first.worst_price == D("1999.90")
    assert first.floor_price == D("1990.00") and first.slippage_bps == D("0.50")
    # 13.402 × 1,999.9 = 26,802.6598 gross, minus 0.1 % and 1 USDT → 26,774.857140 repaid.
    assert first.repay_amount == D("26774.857140")
    assert first.hf_after_repay.quantize(D("0.0001")) == D("1.3558")
    assert second.repay_amount == D("33659.421094")
    assert D("1.6") <= result.final_health_factor < D("1.6001")
    assert result.totals.gas_usd == D("30") and result.totals.duration_s == 2 * 670


def test_plan_batches_grow_as_hf_recovers_when_the_floor_binds() -> None:
    result = plan(snap(position(hf="1.12")), Intent.restore_hf("2.0"), limits=LIMITS)
    sizes = [b.withdraw_amount for b in result.batches if b.limited_by == "floor"]
    assert len(sizes) >= 3
    assert sizes == sorted(sizes)
    assert result.status is PlanStatus.REACHES_TARGET


def test_plan_already_at_target_does_nothing() -> None:
    result = plan(snap(position(hf="1.7")), Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.status is PlanStatus.NO_ACTION and result.batches == ()
    assert result.stop_reason == "target already reached"


def test_plan_at_the_floor_is_blocked_and_says_what_would_help() -> None:
    # HF 1.08 at a 3 % shock is 1.0476 < 1.05: no withdrawal can keep the floor.
    result = plan(snap(position(hf="1.08")), Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.status is PlanStatus.BLOCKED and result.blocked
    assert result.batches == ()
    assert any("withdraw is unsafe" in n and "add collateral or repay ≥" in n for n in result.notes)
    assert result.final_health_factor == result.health_factor


def test_plan_below_one_warns_of_liquidation() -> None:
    result = plan(snap(position(hf="0.98")), Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.status is PlanStatus.BLOCKED
    assert any("can be liquidated now" in w for w in result.warnings)


def test_idle_wallet_and_exchange_stablecoins_repay_first() -> None:
    s = replace(
        snap(position(hf="1.08")), wallet_balances={"USDT": 5_000 * 10**6}, exchange_balances={"USDT": D("3001")}
    )
    result = plan(s, Intent.restore_hf("1.6"), limits=LIMITS)
    idle = result.batches[0]
    assert idle.kind == "repay_idle" and idle.withdraw_units == 0
    assert idle.repay_from_wallet_units == 5_000 * 10**6
    assert idle.repay_from_exchange_units == 3_000 * 10**6  # 3,001 minus the 1 USDT withdrawal fee
    assert idle.repay_amount == D("8000")
    assert idle.hf_after_repay_wad > idle.hf_before_wad
    # The repay lifted HF off the floor: unwinding can now go on.
    assert result.batches[1].kind == "unwind"
    assert result.status is PlanStatus.REACHES_TARGET


def test_idle_repay_takes_only_what_the_target_needs() -> None:
    s = replace(snap(position(hf="1.5")), wallet_balances={"USDT": 10**12 * 10**6})
    result = plan(s, Intent.restore_hf("1.6"), limits=LIMITS)
    assert [b.kind for b in result.batches] == ["repay_idle"]
    assert D("1.6") <= result.final_health_factor < D("1.60001")


def test_per_batch_and_daily_usd_limits_bound_every_batch() -> None:
    limits = replace(LIMITS, max_batch_usd=D("10000"), max_daily_usd=D("25000"))
    result = plan(snap(position(hf="1.3")), Intent.restore_hf("1.6"), limits=limits)
    assert [b.withdraw_amount for b in result.batches] == [D("5"), D("5"), D("2.5")]
    assert result.status is PlanStatus.PARTIAL and result.stop_reason == "daily_limit"


def test_daily_limit_resets_on_the_next_utc_day() -> None:
    limits = replace(LIMITS, max_daily_usd=D("10000"))
    timings = TransferTimings(deposit_s=43_200, exchange_withdrawal_s=43_200)  # one batch ≈ a day
    start = replace(snap(position(hf="1.3")), timestamp=(T0 // 86_400) * 86_400)
    result = plan(start, Intent.restore_hf("1.6"), limits=limits, costs=PlanCosts(timings=timings))
    days = [(T0 // 86_400 * 86_400 + b.start_s) // 86_400 for b in result.batches]
    assert len(set(days)) == len(days) > 1  # one 5 WETH batch per day


def test_intent_max_sell_caps_the_total_sold() -> None:
    result = plan(snap(position(hf="1.3")), Intent.sell("7.5", target_hf=D("1.8")), limits=LIMITS)
    assert sum(b.withdraw_amount for b in result.batches) == D("7.5")
    assert result.stop_reason == "sell_cap" and result.status is PlanStatus.PARTIAL


def test_thin_book_bounds_the_sale_to_the_depth_above_the_cap() -> None:
    book = OrderBook(
        "ETH/USDT",
        (Level(D(2000), D("2")), Level(D(1995), D("3")), Level(D(1980), D(100))),
        (Level(D("2000.5"), D(1)),),
    )
    s = replace(snap(position(hf="1.3")), book=book)
    limits = replace(LIMITS, max_slippage_bps=40)  # cap 2000.25 × 0.996 = 1992.249 → 1992.25
    result = plan(s, Intent.restore_hf("1.6"), limits=replace(limits), market=MarketModel(refill_half_life_s=None))
    first = result.batches[0]
    assert first.withdraw_amount == D("5") and first.limited_by == "depth"
    assert first.worst_price == D(1995) and first.floor_price == D("1992.25")
    # Without refill the book above the cap is gone after the first batch.
    assert len(result.batches) == 1 and result.stop_reason.startswith("depth")


def test_book_refills_between_batches_with_the_half_life() -> None:
    book = OrderBook("ETH/USDT", (Level(D(2000), D("2")),), (Level(D(2001), D(1)),))
    state = BookState.of(book).after_sell(D("2"), limit_price=D(1990))
    assert state.bids == ()
    half = state.refilled(elapsed_s=300, half_life_s=300)
    assert half.bids[0].qty == D("1")
    assert state.refilled(elapsed_s=300, half_life_s=None).bids == ()


def test_exchange_minimum_stops_a_batch_too_small_to_sell() -> None:
    rules = replace(default_rules(), min_notional=D("100000"))
    result = plan(snap(position(hf="1.3")), Intent.restore_hf("1.6"), limits=LIMITS, rules=rules)
    # The floor allows 13.4 WETH (≈ $26.8k): below the minimum, so nothing can be sold.
    assert result.batches == ()
    assert result.status is PlanStatus.BLOCKED
    assert result.stop_reason == "floor (below the exchange/batch minimum)"
    assert any("below the exchange or batch minimum" in n for n in result.notes)


def test_last_small_step_to_target_is_raised_to_the_exchange_minimum() -> None:
    rules = replace(default_rules(), min_notional=D("20000"))
    result = plan(snap(position(hf="1.59")), Intent.restore_hf("1.6"), limits=LIMITS, rules=rules)
    (only,) = result.batches
    assert only.withdraw_amount * D("1990") >= D("20000")
    assert result.status is PlanStatus.REACHES_TARGET


def test_repay_all_intent_closes_the_debt_with_a_repay_all_last_batch() -> None:
    result = plan(snap(position(hf="1.6")), Intent(target_hf=None), limits=LIMITS)
    assert result.status is PlanStatus.REACHES_TARGET
    assert result.batches[-1].repay_all
    assert result.final_health_factor is None  # no debt left
    assert result.to_dict()["final_health_factor"] is None


def test_a_synthetic_book_is_used_and_noted_without_one() -> None:
    s = replace(snap(), book=None)
    result = plan(s, Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.book_source == "synthetic"
    assert any("synthetic book" in n for n in result.notes)


def test_synthetic_book_has_linear_depth() -> None:
    book = synthetic_book(D(2000), D(5_000_000))
    usd_within = lambda bps: sum(lv.price * lv.qty for lv in book.bids if lv.price >= D(2000) * (1 - D(bps) / 10_000))  # noqa: E731
    assert abs(usd_within(100) - D(5_000_000)) < D(60_000)
    assert abs(usd_within(50) - D(2_500_000)) < D(60_000)
    assert book.best_bid < D(2000) < book.best_ask


def test_shock_grows_with_volatility_and_round_trip_above_the_floor() -> None:
    calm = tuple((T0 - 3600 * (24 - i), D(2000)) for i in range(24))
    wild = tuple((T0 - 3600 * (24 - i), D(2000) * (1 + D("0.03") * (-1) ** i)) for i in range(24))
    assert shock_bps(calm, horizon_s=670, z=D(3), floor_bps=300) == 300
    wide = shock_bps(wild, horizon_s=670, z=D(3), floor_bps=300)
    assert wide > 300
    assert shock_bps(wild, horizon_s=4 * 670, z=D(3), floor_bps=300) > wide
    vol = daily_volatility(wild)
    assert vol is not None and D("0.2") < vol < D("0.35")  # ≈ 6 % hourly moves


def test_every_batch_holds_the_floor_at_the_shocked_price_recomputed() -> None:
    s = snap(position(hf="1.15"))
    result = plan(s, Intent.restore_hf("1.8"), limits=LIMITS)
    pos = s.position
    floor = decimal_to_wad("1.05")
    for b in result.batches:
        mid = after_withdraw(pos, "WETH", b.withdraw_units)
        assert health_factor_wad(shocked(mid, shock_bps=result.shock_bps, symbols={"WETH"})) >= floor
        pos = mid.with_reserve("USDT", debt=mid.reserve("USDT").debt - b.repay_units)
    assert health_factor_wad(pos) == result.final_health_factor_wad


def test_plan_json_has_the_contract_keys_as_strings() -> None:
    data = json.loads(json.dumps(plan(snap(), Intent.restore_hf("1.6"), limits=LIMITS).to_dict()))
    for key in (
        "health_factor",
        "target_health_factor",
        "final_health_factor",
        "batches",
        "fees",
        "gas_usd",
        "duration_s",
        "totals",
    ):
        assert key in data
    batch = data["batches"][0]
    for key in (
        "withdraw_amount",
        "expected_price",
        "worst_price",
        "slippage_bps",
        "repay_amount",
        "hf_after_withdraw",
        "hf_after_repay",
    ):
        assert isinstance(batch[key], str)
    assert data["health_factor"] == "1.25" and data["target_health_factor"] == "1.6"


def test_plan_is_deterministic() -> None:
    s = snap(position(hf="1.15"))
    a = plan(s, Intent.restore_hf("1.8"), limits=LIMITS).to_dict()
    b = plan(s, Intent.restore_hf("1.8"), limits=LIMITS).to_dict()
    assert json.dumps(a) == json.dumps(b)


def test_no_action_plan_reports_the_reason() -> None:
    result = no_action_plan(snap(), limits=LIMITS, reason="policy threshold does not act at HF 1.70")
    assert result.status is PlanStatus.NO_ACTION and result.batches == ()
    assert result.stop_reason == "policy threshold does not act at HF 1.70"


def test_plan_without_debt_has_nothing_to_do() -> None:
    pos = position().with_reserve("USDT", debt=0)
    result = plan(snap(pos), Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.status is PlanStatus.NO_ACTION and result.health_factor is None


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="hf_floor"):
        plan_limits(hf_floor=D("0.9"))
    with pytest.raises(ValueError, match="max_slippage_bps"):
        plan_limits(max_slippage_bps=0)


def test_a_batch_that_would_leave_dust_debt_repays_everything() -> None:
    # HF 10,000 leaves ≈ 9.7 USDT of debt: less than another batch could clear (5 USDT minimum
    # notional + 1 USDT withdrawal fee, twice), so the batch repays all instead.
    result = plan(snap(position(hf="1.6")), Intent.restore_hf("10000"), limits=LIMITS)
    last = result.batches[-1]
    assert last.repay_all and last.limited_by == "repay_all"
    assert result.final_health_factor is None
    assert result.status is PlanStatus.REACHES_TARGET


def test_an_intent_naming_a_reserve_that_is_not_collateral_plans_nothing() -> None:
    result = plan(snap(), Intent.restore_hf("1.6", collateral="USDT"), limits=LIMITS)
    assert result.status is PlanStatus.NO_ACTION
    assert result.stop_reason == "USDT is not collateral of this position"


def test_plan_shock_uses_only_the_recent_volatility_window() -> None:
    wild_then_calm = tuple(
        (T0 - 3 * 86_400 + 3600 * i, D(2000) * (1 + D("0.05") * (-1) ** i)) for i in range(24)
    ) + tuple((T0 - 3600 * (10 - i), D(2000)) for i in range(10))
    s = replace(snap(), price_history=wild_then_calm)
    assert plan(s, Intent.restore_hf("1.6"), limits=LIMITS).shock_bps == 300
    wide = plan(s, Intent.restore_hf("1.6"), limits=LIMITS, market=MarketModel(vol_window_s=4 * 86_400))
    assert wide.shock_bps > 300


def test_repaying_one_of_two_debts_stops_when_that_debt_is_gone() -> None:
    pos = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=100 * WAD),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=20_000 * 10**6),
            Reserve("USDC", 6, E8, 7500, 7800, 10450, debt=110_000 * 10**6),
        )
    )
    result = plan(snap(pos), Intent.restore_hf("2.0", debt="USDT"), limits=LIMITS)
    assert result.status is PlanStatus.PARTIAL
    assert result.stop_reason == "USDT debt repaid"
    assert result.batches[-1].repay_all
    assert any("other debts" in n for n in result.notes)


def test_a_refill_keeps_the_share_the_power_gives_in_the_context_of_the_call():
    from decimal import localcontext

    book = OrderBook("ETH/USDT", (Level(Decimal(2000), Decimal(3)),))
    state = BookState.of(book).after_sell(Decimal(2), limit_price=Decimal(1))
    for prec in (28, 20, 28):  # the cached share follows the context's precision
        with localcontext() as ctx:
            ctx.prec = prec
            keep = Decimal(2) ** (-Decimal(420) / Decimal(600))
            expected = (Decimal(2) * keep).quantize(Decimal("1e-12"), rounding="ROUND_CEILING")
            assert state.refilled(elapsed_s=420, half_life_s=600).eaten == (expected,)
