"""Baselines behave as described, and sweeps are grids whose results do not depend on workers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.backtest import data
from bot.backtest.baselines import OneShot, SellAll
from bot.backtest.market import MarketParams
from bot.backtest.pair import ETH_USDT
from bot.backtest.runner import Runner, SimParams
from bot.backtest.scenario import make_baseline, split_settings
from bot.backtest.sweep import Window, grid, parse_sets, run_sweep, tasks_for
from bot.errors import ConfigError

WINDOW = "eth_usd_5m_2022-06-13.csv"


def run(decider, **kw):
    return Runner(
        data.shipped(WINDOW),
        decider,
        collateral=Decimal(1_000),
        start_hf=Decimal("1.45"),
        market=MarketParams(),
        sim=SimParams(),
        **kw,
    ).run()


def test_sell_all_repays_the_whole_debt_after_its_first_trigger_through_the_executor():
    actor = make_baseline("sell-all", {"trigger_hf": "1.3"}, split_settings({}), ETH_USDT)
    assert isinstance(actor, SellAll)
    r = run(actor)
    assert r.world.debt.balance == 0
    assert r.world.ledger.debt_repaid_units > 0
    assert all(ledger_t >= r.world.ledger.batches[0][0] for ledger_t, _, _ in r.world.ledger.fills)
    legs = [k for _, k, _ in r.events if k in ("batch", "deposit", "sell", "quote-arrived", "repay", "batch-done")]
    assert legs[:6] == ["batch", "deposit", "sell", "quote-arrived", "repay", "batch-done"]  # the saga's legs
    # A panic seller's limits: floor 1.01, no shock margin, the schema's widest slippage, no cooldown.
    cfg = actor.engine
    assert (cfg.executor.hf_floor_wad, cfg.executor.shock_bps, cfg.executor.max_slippage_bps) == (
        101 * 10**16,
        0,
        2_000,
    )
    assert cfg.controller.cooldown_s == 0


def test_one_shot_repays_atomically_so_hf_never_dips_below_the_trigger_path():
    r = run(OneShot(trigger_hf=Decimal("1.3"), target_hf=Decimal("1.6")))
    assert r.world.ledger.liquidations == []
    assert all(kind != "deposit" for _, kind, _ in r.events)  # no transfer legs
    assert r.world.ledger.batches
    assert r.min_hf > 1.2


def test_parse_sets_splits_sweep_axes_from_values():
    fixed, axes = parse_sets(["trigger_hf=1.3,1.4", "steps=[[0,0.25],[0.1,0.3]]", "target_hf=1.8"])
    assert axes == {"trigger_hf": ["1.3", "1.4"]}
    assert fixed == {"steps": [["0", "0.25"], ["0.1", "0.3"]], "target_hf": "1.8"}
    assert grid({"a": ["1", "2"], "b": ["x", "y"]}) == [
        {"a": "1", "b": "x"},
        {"a": "1", "b": "y"},
        {"a": "2", "b": "x"},
        {"a": "2", "b": "y"},
    ]
    with pytest.raises(ConfigError):
        parse_sets(["trigger_hf=1.3,,1.5"])


def test_sweep_results_are_in_task_order_whatever_the_worker_count():
    windows = [Window(str(data.SHIPPED_DIR / WINDOW)), Window(str(data.SHIPPED_DIR / "eth_usd_5m_2022-11-08.csv"))]
    tasks = tasks_for(
        windows, "threshold", {}, {"trigger_hf": ["1.3", "1.5"]}, collateral="1000", start_hf="1.45", baselines=()
    )
    assert len(tasks) == 4
    assert run_sweep(tasks, workers=1, progress=False) == run_sweep(tasks, workers=2, progress=False)
