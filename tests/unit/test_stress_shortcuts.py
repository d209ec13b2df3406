"""The stress lab's shortcuts leave every path's outcome as the full engine gives it."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal

from bot.backtest.market import Market
from bot.backtest.scenario import run_scenario
from bot.engine import volatility
from bot.stress import lab
from bot.stress.lab import HistorySource, StressTask, run_stress_task

# A position that needs many batches: 3,000 WETH against $1M of depth within 1 %.
SOURCE = HistorySource(bar_s=300, horizon=288, seed=3, block=24, window=72, start_price=2451.96)
VALUES = (
    ("depth_usd_1pct", "1000000"),
    ("crash_depth_factor", "0.3"),
    ("trigger_hf", "1.4"),
    ("target_hf", "1.8"),
    ("cooldown_s", "0"),
)


def task(first: int, stop: int) -> StressTask:
    return StressTask(
        source=SOURCE,
        point=0,
        first=first,
        stop=stop,
        policy="threshold",
        values=VALUES,
        collateral="3000",
        start_hf="1.42",
        baselines=("do-nothing", "sell-all", "one-shot"),
    )


def as_json(rows: list) -> str:
    return json.dumps([[(name, dataclasses.asdict(o)) for name, o in path] for path in rows], default=str)


def uncached_displacement(self: Market, i: int, t: int) -> float:
    gap, sold = self._decayed(t)
    impact = self.p.impact_coef * self.daily_sigma(i) * math.sqrt(sold / self.daily_volume(i)) if sold else 0.0
    return min(0.9, max(gap, impact))


def test_the_shortcuts_give_the_same_outcomes_as_the_engine_without_them(monkeypatch):
    short = run_stress_task(task(0, 3))
    monkeypatch.setattr(lab, "PLAN_BATCHES", None)  # plan the whole unwind at every tick
    monkeypatch.setattr(Market, "stress", Market._stress_of)  # the regime and impact of a bar, afresh
    monkeypatch.setattr(Market, "displacement", uncached_displacement)
    monkeypatch.setattr(volatility, "_cached_log_ratio", volatility._cached_log_ratio.__wrapped__)
    volatility.sigma_per_sqrt_second.cache_clear()
    full = run_stress_task(task(0, 3))
    volatility.sigma_per_sqrt_second.cache_clear()
    assert as_json(short) == as_json(full)
    assert sum(o.acted for path in short for name, o in path if name == "threshold") >= 2


def test_the_position_takes_several_batches_and_a_full_plan_holds_more():
    candles = SOURCE.candles(range(1, 2))[0]  # falls 11 %
    outcome = run_scenario(
        candles,
        "threshold",
        {**dict(VALUES), "max_batch_usd": "100000"},  # the schema's batch limit, not one sized by the position
        collateral=Decimal(3000),
        start_hf=Decimal("1.42"),
        baselines=(),
        record=True,
    )
    batches = outcome.results[0].world.ledger.batch_log
    plans = outcome.actors[0].plans  # type: ignore[attr-defined]
    assert len(batches) == 10
    assert max(len(choice.detail["batches"]) for _, _, choice in plans if choice.detail) >= 10


def test_a_shifted_history_gives_the_volatility_of_a_fresh_computation():
    from decimal import localcontext

    from bot.engine.volatility import sigma_per_sqrt_second

    prices = [Decimal("2451.96") + Decimal(k % 7) * Decimal("3.17") - Decimal(k) / 10 for k in range(400)]
    points = [(60 * k, p) for k, p in enumerate(prices)]
    for first in (0, 1, 5):  # the second and third reuse most log returns of the first
        window = tuple(points[first : first + 300])
        for prec in (28, 40):
            with localcontext() as ctx:
                ctx.prec = prec
                returns = [(b / a).ln() for (_, a), (_, b) in zip(window, window[1:])]
                fresh = (sum(r * r for r in returns) / Decimal(window[-1][0] - window[0][0])).sqrt()
                assert sigma_per_sqrt_second.__wrapped__(window) == fresh  # past the whole-history cache


def test_a_task_carries_the_config_itself_so_a_worker_needs_no_file(tmp_path):
    from bot.settings import load_backtest_settings

    path = tmp_path / "fund.toml"
    path.write_text(
        '[limits]\nmax_daily_usd = "1e10"\nmax_batch_usd = "1e10"\nmin_batch_usd = "1e9"\n'
    )  # never this big
    settings = load_backtest_settings(str(path))
    path.unlink()  # as on a cluster node that never saw the driver's file
    rows = run_stress_task(dataclasses.replace(task(0, 3), config=settings, baselines=()))
    assert [[(name, o.acted) for name, o in path] for path in rows] == [[("threshold", False)]] * 3
