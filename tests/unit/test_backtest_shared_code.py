"""The backtest runs the daemon's own policy and planner code: a snapshot taken inside a
backtest gives the same intent and the same plan through a direct call, and the runner
executes exactly the plan's first batch."""

from __future__ import annotations

from decimal import Decimal

import pytest

import bot.backtest.policies as bt_policies
import bot.engine.planner as planner
import strategies.ladder
import strategies.threshold
from bot.backtest import data
from bot.backtest.adapters import SimVenue
from bot.backtest.scenario import run_scenario
from bot.engine.plan_types import MarketModel, PlanCosts, PlanLimits, TransferTimings
from strategies import load_policy
from tests.support.engine_kit import plan_limits


def test_backtest_imports_the_planner_and_policies_it_does_not_copy_them():
    assert bt_policies.plan is planner.plan
    assert load_policy("threshold").decide_fn is strategies.threshold.decide
    assert load_policy("ladder").decide_fn is strategies.ladder.decide


@pytest.mark.parametrize(("policy", "window"), [
    ("threshold", "eth_usd_5m_2022-06-13.csv"),
    ("ladder", "eth_usd_5m_2026-01-20_2026-02-15.csv"),
])
def test_same_snapshot_gives_same_plan_in_backtest_and_direct_call(policy, window):
    out = run_scenario(data.shipped(window), policy, {}, collateral=Decimal(5_000), start_hf=Decimal("1.45"),
                       record=True, baselines=())
    run = out.results[0]
    recorded = out.deciders[0].plans
    assert len(recorded) >= 2
    # What the daemon would pass, written out by hand: default limits, the simulated transfer
    # timings (300 s deposit, 600 s withdrawal), refill half-life 600 s, the venue's rules.
    costs = PlanCosts(timings=TransferTimings(deposit_s=300, exchange_withdrawal_s=600))
    market = MarketModel(refill_half_life_s=600)
    direct_policy = load_policy(policy)
    executed = [units for _, units in run.world.ledger.batches]
    first_unwinds = []
    for snapshot, backtest_plan in recorded:
        intent = direct_policy.decide_safely(snapshot).intent
        assert intent is not None
        direct = planner.plan(snapshot, intent, limits=_with_sold_today(plan_limits(), recorded, snapshot),
                              rules=SimVenue.RULES, costs=costs, market=market)
        assert direct.to_dict() == backtest_plan.to_dict()
        unwind = next((b for b in direct.batches if b.kind == "unwind"), None)
        if unwind is not None:
            first_unwinds.append(unwind.withdraw_units)
    assert executed == first_unwinds


def _with_sold_today(limits, recorded, snapshot):
    """Today's sold totals as the controller tracks them: the batches started earlier that UTC day."""
    import dataclasses

    day = snapshot.timestamp // 86_400
    usd = qty = Decimal(0)
    for snap, p in recorded:
        if snap is snapshot:
            break
        if snap.timestamp // 86_400 == day:
            b = next((b for b in p.batches if b.kind == "unwind"), None)
            if b is not None:
                usd += b.gross_quote
                qty += b.withdraw_amount
    if usd == 0 and qty == 0:
        return limits
    return dataclasses.replace(limits, sold_today_usd=usd, sold_today_qty=qty)
