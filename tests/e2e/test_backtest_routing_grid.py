"""With routing on, no planner-driven policy is liquidated on any shipped crash window, for 100
and 10,000 WETH from HF 1.3, 1.4 and 1.5 (the shipped slices are the project's crash windows);
nor on the CEX route alone, with no buffer (the emergency floor takes over where the data-sized
shock holds the HF floor out of reach for hours).

Run it alone with
``.venv/bin/python -m pytest -m slow tests/e2e/test_backtest_routing_grid.py``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.backtest import data
from bot.backtest.sweep import Task, Window, run_sweep

WINDOWS = sorted(p.name for p in data.SHIPPED_DIR.glob("eth_usd_*.csv") if "_1h_" not in p.name)
COLLATERALS = ("100", "10000")
START_HFS = ("1.3", "1.4", "1.5")
POLICIES = ("threshold", "ladder", "paced")  # every built-in policy the planner sizes
ROUTING = (("route", "auto"),)


def grid(routing: tuple[tuple[str, str], ...] = ROUTING) -> list[Task]:
    return [
        Task(Window(str(data.SHIPPED_DIR / window)), policy, routing, collateral, start_hf, ())
        for window in WINDOWS
        for collateral in COLLATERALS
        for start_hf in START_HFS
        for policy in POLICIES
    ]


def test_the_grid_covers_every_crash_window_size_and_start() -> None:
    tasks = grid()

    assert len(WINDOWS) == 7 and len(tasks) == 7 * 2 * 3 * 3
    assert {t.values for t in tasks} == {ROUTING}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 126 backtests
def test_with_routing_on_no_planner_driven_policy_is_liquidated() -> None:
    tasks = grid()

    rows = run_sweep(tasks, workers=None, progress=False)

    liquidated = [
        f"{t.window.path.rsplit('/', 1)[-1]} {t.policy} {t.collateral} WETH HF {t.start_hf}: "
        f"first liquidation {row['first_liquidation']}, sold {row['collateral_sold_by_route']}"
        for t, result in zip(tasks, rows)
        for row in result
        if row["liquidated"]
    ]
    assert liquidated == []
    # Routing reached the engine: somewhere the planner took the DEX.
    assert sum(Decimal(row["collateral_sold_by_route"]["dex"]) for result in rows for row in result) > 0


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 126 backtests
def test_on_the_cex_route_alone_no_planner_driven_policy_is_liquidated() -> None:
    tasks = grid((("route", "cex"),))

    rows = run_sweep(tasks, workers=None, progress=False)

    liquidated = [
        f"{t.window.path.rsplit('/', 1)[-1]} {t.policy} {t.collateral} WETH HF {t.start_hf}: {row['first_liquidation']}"
        for t, result in zip(tasks, rows)
        for row in result
        if row["liquidated"]
    ]
    assert liquidated == []
    assert sum(Decimal(row["collateral_sold_by_route"]["dex"]) for result in rows for row in result) == 0


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 126 backtests
def test_with_a_buffer_of_5_percent_of_the_debt_no_batch_leaves_hf_below_its_start_price_for_price() -> None:
    tasks = []
    for window in WINDOWS:
        first_open = float(data.shipped(window).open[0])
        for collateral in COLLATERALS:
            for start_hf in START_HFS:
                debt = float(collateral) * first_open * 0.83 / float(start_hf)  # LT 83 %: ≈ the opened debt
                values = (("route", "cex"), ("buffer_usd", str(round(debt * 0.05))))
                tasks += [
                    Task(Window(str(data.SHIPPED_DIR / window)), policy, values, collateral, start_hf, ())
                    for policy in POLICIES
                ]

    rows = [result[0] for result in run_sweep(tasks, workers=None, progress=False)]

    assert [row["liquidated"] for row in rows] == [False] * len(tasks)
    assert min(Decimal(row["min_hf_vs_batch_start_same_price"]) for row in rows) >= 1
    assert sum(row["batches_withdraw_first"] for row in rows) == 0
    assert sum(row["batches_repay_first"] for row in rows) > 10_000
