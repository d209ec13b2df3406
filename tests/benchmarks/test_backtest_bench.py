"""Backtest speed.

- A year of 1-minute candles: 525,600 bars synthesised from the shipped 2025 hourly candles
  (each hour → 60 minutes on a straight path open → nearer extreme → other extreme → close;
  ``data.minute_bars_from_hourly``), one policy, 1,000 WETH. Quiet bars are jumped over with
  numpy; the policy and planner run only at events.
- A 100-point sweep (trigger_hf × target_hf, 10 × 10) of the threshold policy over all seven
  shipped crash windows (700 backtests), in parallel processes.

Each policy run is the daemon's controller and executor at the events. With the schema's
default limits ($100,000 a batch, cooldown 300 s, HF floor 1.10) a run takes more, smaller
batches than with the planner's old defaults (no caps, floor 1.05, 50 bps); the ``prior``
cases run those limits, to compare like with like.

``make bench`` prints the timings; ``extra_info`` holds bars/s and runs/s.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from bot.backtest import data
from bot.backtest.baselines import DoNothing
from bot.backtest.pair import ETH_USDT
from bot.backtest.runner import Runner
from bot.backtest.scenario import make_actors, split_settings
from bot.backtest.sweep import Window, run_sweep, tasks_for


@pytest.fixture(scope="module")
def year():
    return data.minute_bars_from_hourly(data.shipped("eth_usd_1h_2025.csv"))


PRIOR_LIMITS = {
    "hf_floor": "1.05",
    "max_slippage_bps": "50",
    "cooldown_s": "0",
    "max_batch_usd": "1000000000000",
    "max_daily_usd": "1000000000000",
}


@pytest.mark.parametrize(
    ("policy", "start_hf", "limits"),
    [
        ("do-nothing", "3", "defaults"),
        ("threshold", "3", "defaults"),
        ("threshold", "2.5", "defaults"),
        ("ladder", "3", "defaults"),
        ("threshold", "3", "prior"),
        ("threshold", "2.5", "prior"),
        ("ladder", "3", "prior"),
    ],
)
def test_bench_year_of_minute_bars(benchmark, year, policy, start_hf, limits):
    settings = split_settings(PRIOR_LIMITS if limits == "prior" else {})

    def run():
        actor = DoNothing() if policy == "do-nothing" else make_actors(policy, settings, ETH_USDT, baselines=())[0]
        return Runner(
            year, actor, collateral=Decimal(1_000), start_hf=Decimal(start_hf), market=settings.market, sim=settings.sim
        ).run()

    result = benchmark.pedantic(run, rounds=3, iterations=1) if benchmark.enabled else benchmark(run)
    assert result.bars_simulated == 525_600
    if benchmark.enabled:
        bars_per_s = 525_600 / benchmark.stats.stats.mean
        benchmark.extra_info["bars_per_second"] = round(bars_per_s)
        benchmark.extra_info["batches"] = len(result.world.ledger.batches)
        benchmark.extra_info["liquidations"] = len(result.world.ledger.liquidations)
        if policy in ("do-nothing", "threshold"):
            assert bars_per_s >= 1_000_000


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 700 backtests: ≈1–2.5 minutes on two cores, more on a busy machine
def test_bench_sweep_100_points_over_all_crash_windows(benchmark):
    windows = [Window(str(data.SHIPPED_DIR / name)) for name in data.CRASH_WINDOWS]
    axes = {
        "trigger_hf": [f"{1.2 + 0.05 * k:.2f}" for k in range(10)],
        "target_hf": [f"{1.7 + 0.05 * k:.2f}" for k in range(10)],
    }
    tasks = tasks_for(windows, "threshold", {}, axes, collateral="1000", start_hf="1.45", baselines=())
    assert len(tasks) == 700

    def run():
        return run_sweep(tasks, workers=os.cpu_count() or 1, progress=False)

    rows = benchmark.pedantic(run, rounds=1, iterations=1) if benchmark.enabled else benchmark(run)
    assert len(rows) == 700 and all(len(r) == 1 for r in rows)
    if benchmark.enabled:
        benchmark.extra_info["backtests_per_second"] = round(700 / benchmark.stats.stats.mean, 1)
