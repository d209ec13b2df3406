"""Routing each planned batch: the cheaper route within the cap, the DEX when the CEX cannot act."""

from __future__ import annotations

from decimal import Decimal

from bot.domain.position import decimal_to_wad
from bot.engine.plan_types import PlanCosts, PlanStatus
from bot.engine.planner import plan
from bot.engine.routing import Routing, route_plan
from strategies.base import Intent
from tests.support.dex_fakes import FakeDex
from tests.support.engine_kit import plan_limits
from tests.support.fakes import E6, FakeLending, make_world

TARGET = Decimal("1.3")


def _routed(*, debt_usdt: int, setting: str = "auto", cex_down: str | None = None, cost_bps: int = 30, **limits):
    world = make_world(debt_usdt=debt_usdt)
    snapshot = FakeLending(world).snapshot()
    intent = Intent.restore_hf(TARGET, reason="test")
    the_limits = plan_limits(**limits)
    planned = plan(snapshot, intent, limits=the_limits)
    dex = FakeDex(world, cost_bps=cost_bps)
    routed = route_plan(
        planned, snapshot, intent, limits=the_limits, costs=PlanCosts(), routing=Routing(setting, dex, cex_down)
    )
    return planned, routed, dex


def test_route_cex_leaves_the_plan_exactly_as_planned():
    planned, routed, dex = _routed(debt_usdt=130_000, setting="cex")
    assert routed is planned
    assert dex.quotes == []
    assert all(b.route == "cex" and b.route_reason == "" for b in routed.batches)
    assert "route" in routed.to_dict()["batches"][0] and routed.to_dict()["batches"][0]["route"] == "cex"


def test_at_hf_1_02_the_cex_cannot_withdraw_and_the_dex_restores_the_target():
    planned, routed, _ = _routed(debt_usdt=162_745)
    assert planned.status is PlanStatus.BLOCKED and planned.batches == ()
    assert routed.status is PlanStatus.REACHES_TARGET
    first = routed.batches[0]
    assert first.route == "dex"
    assert first.route_reason.startswith("dex: CEX cannot withdraw at HF 1.0200 (floor 1.05 at a 3.00 % shock); 0.")
    assert first.route_reason.endswith(" % on pool fee 500")
    assert routed.final_health_factor_wad < decimal_to_wad(Decimal("1.301"))  # sized to the target, not past it
    assert first.hf_after_repay_wad > first.hf_before_wad  # HF only rises: no shocked floor bounds it
    assert routed.final_health_factor_wad >= decimal_to_wad(TARGET)
    assert first.withdraw_units <= first.dex_max_collateral_in_units
    assert first.dex_pool_fee == 500
    shown = routed.to_dict()["batches"][0]
    assert (shown["route"], shown["dex_pool_fee"]) == ("dex", 500)


def test_auto_takes_the_cheaper_route():
    _, cheap, _ = _routed(debt_usdt=130_000, cost_bps=2)
    assert cheap.batches[0].route == "dex"
    assert cheap.batches[0].route_reason.startswith("dex: 0.")
    assert " vs cex 0." in cheap.batches[0].route_reason
    planned, dear, _ = _routed(debt_usdt=130_000, cost_bps=45)
    assert [b.withdraw_units for b in dear.batches] == [b.withdraw_units for b in planned.batches]
    assert dear.batches[0].route == "cex"
    assert dear.batches[0].route_reason.startswith("cex: 0.") and " vs dex 0." in dear.batches[0].route_reason


def test_a_cex_batch_held_back_by_the_floor_in_transit_goes_to_the_dex_even_when_dearer():
    # Near the floor the CEX batch is as large as its in-transit exposure allows, short of the
    # target; the atomic route gets there in one transaction without a dip.
    planned, routed, _ = _routed(debt_usdt=150_000, cost_bps=45)
    assert planned.batches[0].limited_by == "floor"
    assert routed.batches[0].route == "dex"
    assert routed.batches[0].route_reason == (
        "dex: the CEX batch is held back by the HF floor in transit; 0.84 % vs cex 0.49 %"
    )
    assert routed.final_health_factor_wad >= decimal_to_wad(TARGET)
    _, away, _ = _routed(debt_usdt=130_000, cost_bps=45)  # far from the floor: the cheaper CEX
    assert away.batches[0].route == "cex"


def test_a_pool_past_the_cap_is_never_taken():
    planned, routed, _ = _routed(debt_usdt=162_745, cost_bps=600)
    assert routed.batches == ()
    assert "within the 50 bps cap" in routed.stop_reason
    _, on_cex, _ = _routed(debt_usdt=130_000, cost_bps=600)
    assert on_cex.batches[0].route == "cex" and "past the 50 bps cap" in on_cex.batches[0].route_reason


def test_an_exchange_that_does_not_answer_forces_the_dex():
    _, routed, _ = _routed(debt_usdt=130_000, cex_down="the exchange does not answer")
    assert {b.route for b in routed.batches} == {"dex"}
    assert routed.batches[0].route_reason.startswith("dex: the exchange does not answer; ")


def test_dex_batches_keep_the_batch_limit():
    _, routed, _ = _routed(debt_usdt=162_745, max_batch_usd=Decimal(20_000))
    assert len(routed.batches) > 1
    assert all(b.repay_units <= 20_000 * E6 for b in routed.batches)
    assert routed.batches[0].limited_by == "batch_limit"
    hfs = [b.hf_after_repay_wad for b in routed.batches]
    assert hfs == sorted(hfs)
    assert routed.final_health_factor_wad >= decimal_to_wad(TARGET)
