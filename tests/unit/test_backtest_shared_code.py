"""The backtest runs the daemon's own controller, executor, policy and planner code: a snapshot
taken inside a backtest gives the same intent and the same plan through a direct call, and the
executor withdraws exactly the plans' batches."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

import bot.backtest.engine as bt_engine
import bot.backtest.scenario as bt_scenario
import bot.engine.controller as controller
import bot.engine.executor as executor
import bot.engine.planner as planner
import strategies.ladder
import strategies.threshold
from bot.backtest import data
from bot.backtest.pair import ETH_USDT
from bot.backtest.scenario import run_scenario
from bot.compose.shock_history import shock_table
from bot.engine.plan_types import MarketModel, PlanCosts, PlanLimits, TransferTimings
from strategies import load_policy


def test_backtest_imports_the_engine_it_does_not_copy_it():
    assert bt_engine.Controller is controller.Controller
    assert bt_engine.Executor is executor.Executor
    assert bt_scenario.policy_plan_fn is controller.policy_plan_fn
    assert load_policy("threshold").decide_fn is strategies.threshold.decide
    assert load_policy("ladder").decide_fn is strategies.ladder.decide


@pytest.mark.parametrize(
    ("policy", "window"),
    [
        ("threshold", "eth_usd_5m_2022-06-13.csv"),
        ("ladder", "eth_usd_5m_2026-01-20_2026-02-15.csv"),
    ],
)
def test_same_snapshot_gives_same_plan_in_backtest_and_direct_call(policy, window):
    # The schema's batch and daily limits, named (unnamed, the backtest sizes them from the position).
    schema_caps = {"max_batch_usd": "100000", "max_daily_usd": "1000000"}
    out = run_scenario(
        data.shipped(window),
        policy,
        schema_caps,
        collateral=Decimal(5_000),
        start_hf=Decimal("1.45"),
        record=True,
        baselines=(),
    )
    recorded = out.actors[0].plans
    assert len(recorded) >= 2
    # What the daemon passes with no config, written out by hand: the schema's limits, the
    # simulated transfer timings (300 s deposit, 600 s withdrawal), refill half-life 600 s, the
    # shock table of the schema's quantile.
    limits = PlanLimits(
        hf_floor=Decimal("1.10"),
        max_slippage_bps=100,
        price_shock_bps=300,
        max_batch_usd=Decimal(100_000),
        max_daily_usd=Decimal(1_000_000),
        min_batch_usd=Decimal(100),
        buffer_usd=Decimal(0),
        emergency_hf_floor=Decimal("1.01"),
        emergency_after_s=3600,
    )
    costs = PlanCosts(timings=TransferTimings(deposit_s=300, exchange_withdrawal_s=600))
    market = MarketModel(refill_half_life_s=600, shock_table=shock_table(Decimal("0.999")))
    direct_policy = load_policy(policy)
    planned = []
    for snapshot, context, choice in recorded:
        intent = direct_policy.decide_safely(snapshot).intent
        if intent is None:  # the wake bounds are upper bounds: the policy may still decline
            assert choice.spec is None
            continue
        direct = planner.plan(
            snapshot,
            intent,
            limits=dataclasses.replace(limits, sold_today_usd=context.sold_today_usd),
            rules=ETH_USDT.rules(Decimal("0.001")),
            costs=costs,
            market=market,
        )
        assert direct.to_dict() == choice.detail
        if choice.spec is not None:
            planned.append(choice.spec.withdraw_amount)
    executed = [units for _, units in out.results[0].world.ledger.batches]
    assert executed == [units for units in planned if units > 0]
