"""Repay-first batches: with a buffer in the wallet the planner repays first, withdraws only
what keeps HF at its start price for price, and refills the buffer from the sale."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from bot.domain import Position, Reserve, Snapshot, health_factor_wad
from bot.engine.book_model import synthetic_book
from bot.engine.plan_types import PlanStatus
from bot.engine.planner import plan
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E6, E8, WAD = 10**6, 10**8, 10**18
T0 = 1_770_000_000


def _snap(*, wallet_usdt: int, hf: str = "1.3") -> Snapshot:
    debt = int(D(100) * 2000 * D("0.83") / D(hf) * E6)
    pos = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=100 * WAD),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )
    return Snapshot(pos, 1, T0, book=synthetic_book(D(2000), D(5_000_000)), wallet_balances={"USDT": wallet_usdt * E6})


def _limits(buffer_usd: int):
    return plan_limits(hf_floor=D("1.05"), max_slippage_bps=50, price_shock_bps=300, buffer_usd=D(buffer_usd))


def test_buffer_makes_every_batch_repay_first_and_hf_never_dips_below_its_start() -> None:
    s = _snap(wallet_usdt=6_400)  # ≈ 5 % of the 127,692 USDT debt
    result = plan(s, Intent.restore_hf("1.6"), limits=_limits(6_400))
    assert result.status is PlanStatus.REACHES_TARGET
    unwinds = [b for b in result.batches if b.kind == "unwind"]
    assert len(unwinds) >= 3
    assert all(b.order == "repay_first" for b in unwinds)
    for b in unwinds:
        # repaid from the wallet first; the withdrawal keeps HF at or above its start
        assert 0 < b.repay_from_wallet_units <= 6_400 * E6
        assert b.hf_after_withdraw_wad >= b.hf_before_wad
        assert b.limited_by in ("repay_first", "target")
        assert b.hf_after_repay_wad > b.hf_before_wad
    # the whole buffer while the start HF bounds the sale (less the cents the lot step rounds
    # off); the last, smaller sale (the least that reaches the target) spends only its share;
    # each refills all it spent
    assert all(6_399 * E6 < b.repay_from_wallet_units <= 6_400 * E6 for b in unwinds[:-1])
    assert unwinds[-1].repay_from_wallet_units < 6_400 * E6
    assert all(b.refill_units == b.repay_from_wallet_units for b in unwinds)
    first = unwinds[0]
    # C·R/D = 100 × 6,400 / 127,692.3… = 5.0120 WETH; with HF kept 1 bp above its start for
    # the interest: 100 − 1.0001 × 100 × (127,692.3… − 6,400) / 127,692.3… = 5.0025 WETH
    assert first.withdraw_amount == D("5.0025")
    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["batches"][0]["order"] == "repay_first"
    assert as_json["batches"][0]["refill_amount"] == "6399.936931"


def test_without_a_buffer_batches_withdraw_first_under_the_floor() -> None:
    result = plan(_snap(wallet_usdt=0), Intent.restore_hf("1.6"), limits=_limits(0))
    assert {b.order for b in result.batches} == {"withdraw_first"}
    assert result.batches[0].limited_by == "floor"
    assert result.batches[0].hf_after_withdraw_wad < result.batches[0].hf_before_wad


def test_idle_wallet_without_a_buffer_is_spent_once_and_not_refilled() -> None:
    result = plan(_snap(wallet_usdt=6_400), Intent.restore_hf("1.6"), limits=_limits(0))
    idle, *rest = result.batches
    assert idle.kind == "repay_idle" and idle.order == "repay_first" and idle.refill_units == 0
    assert {b.order for b in rest} == {"withdraw_first"}


def test_a_buffer_too_small_for_the_minimum_sale_falls_back_to_withdraw_first() -> None:
    s = _snap(wallet_usdt=1)
    result = plan(s, Intent.restore_hf("1.6"), limits=replace(_limits(1), min_batch_usd=D(100)))
    assert result.batches[0].order == "withdraw_first" and result.batches[0].repay_from_wallet_units == 0
    assert any("withdraw first" in n for n in result.notes)
    assert health_factor_wad(s.position) == result.health_factor_wad


def test_a_sale_smaller_than_the_buffer_allows_spends_only_its_share_and_refills_it() -> None:
    s = _snap(wallet_usdt=6_400)
    result = plan(s, Intent.restore_hf("1.6", max_sell=D("1")), limits=_limits(6_400))
    (batch,) = result.batches
    assert batch.order == "repay_first" and batch.withdraw_amount == D("1") and batch.limited_by == "sell_cap"
    # 1 WETH of 100 needs D·(1 − 99 / (100 × 1.0001)) = 1,289.42 USDT repaid first (HF 1 bp up)
    assert 1_289_42 * E6 // 100 < batch.repay_from_wallet_units < 1_290 * E6
    assert batch.refill_units == batch.repay_from_wallet_units  # the sale brings back all it spent
    assert batch.hf_after_withdraw_wad >= batch.hf_before_wad


def test_the_buffer_is_never_spent_by_an_idle_repay_only_what_lies_beyond_it() -> None:
    # 20,000 USDT in the wallet with a 6,400 buffer: 13,600 is the owner's idle money, repaid once
    s = _snap(wallet_usdt=20_000)
    result = plan(s, Intent.restore_hf("1.6"), limits=_limits(6_400))
    idle, *rest = result.batches
    assert idle.kind == "repay_idle" and idle.repay_from_wallet_units == 13_600 * E6
    assert rest and all(b.order == "repay_first" and b.refill_units == b.repay_from_wallet_units for b in rest)
    assert result.status is PlanStatus.REACHES_TARGET
