"""The odds of a fall within a horizon, by regime: counted from the series, thin cells borrow
from livelier ones, a livelier regime never reads safer, no σ reads all of history."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from bot.domain.fall_odds import FallOdds, build_fall_odds, sigma_daily
from bot.domain.shock_table import PriceSeries

D = Decimal
HOUR = 3_600


def odds(falls_by_regime: list[list[float]]) -> FallOdds:
    pooled = sorted(f for falls in falls_by_regime for f in falls)
    return FallOdds(
        horizon_s=86_400,
        regime_edges_bps=(300,),
        falls=tuple(tuple(sorted(f)) for f in falls_by_regime),
        pooled=tuple(pooled),
    )


def test_p_reach_is_the_share_of_falls_at_least_that_deep_in_the_regime():
    calm = [0.01] * 90 + [0.05] * 9 + [0.20]
    o = odds([calm, [0.10] * 50 + [0.30] * 50])
    assert o.p_reach(D("0.05"), D("0.01")) == D("0.10")  # 9 at 5 % and 1 at 20 % of 100
    assert o.p_reach(D("0.06"), D("0.01")) == D("0.01")
    assert o.p_reach(D("0.21"), D("0.01")) == D(0)
    assert o.p_reach(D("0.25"), D("0.05")) == D("0.5")  # the lively regime (σ 5 % ≥ 3 %)


def test_a_livelier_regime_never_reads_safer_than_a_calmer_one():
    o = odds([[0.20] * 10, [0.01] * 10])  # a calm cell deeper than the lively one
    assert o.p_reach(D("0.10"), D("0.05")) == D(1)
    assert o.distance_for(D("0.05"), D("0.05")) == D("0.200001")


def test_distance_for_is_the_smallest_distance_within_the_budget():
    calm = [0.01 * k for k in range(1, 101)]  # 1 % … 100 %, 100 falls
    o = odds([calm, calm])
    d = o.distance_for(D("0.05"), D("0.01"))
    assert d == D("0.950001")  # 5 falls (96 … 100 %) may reach it, the 6th (95 %) may not
    assert o.p_reach(d, D("0.01")) == D("0.05")
    assert o.p_reach(D("0.95"), D("0.01")) == D("0.06")


def test_without_sigma_the_odds_are_all_of_historys():
    o = odds([[0.0] * 99 + [0.5], [0.5] * 100])
    assert o.p_reach(D("0.4"), None) == D(101) / D(200)
    assert o.widest_distance(D("0.01")) == D("0.500001")


def hourly(closes: list[float], lows: list[float]) -> PriceSeries:
    return PriceSeries("h", HOUR, [k * HOUR for k in range(len(closes))], lows, closes)


def test_build_counts_the_worst_fall_over_the_horizon_for_every_start_with_a_whole_window_behind():
    # Two days of flat prices at 100, then a low of 80 at hour 40: σ is 0 (calm) throughout.
    n = 60
    closes = [100.0] * n
    lows = [100.0] * n
    lows[40] = 80.0
    o = build_fall_odds([hourly(closes, lows)], horizon_s=6 * HOUR, regime_edges_bps=(300,), min_cell_samples=1)
    # Starts 24 … 53 have a whole day behind and 6 h ahead; 34 … 39 see the low (20 %).
    assert len(o.falls[0]) == 30
    assert o.falls[0].count(pytest.approx(0.2)) == 6
    assert o.p_reach(D("0.2"), D(0)) == D(6) / D(30)
    assert o.falls[1] == o.pooled  # the empty lively cell takes all of history's


def test_build_refuses_a_horizon_no_series_covers():
    with pytest.raises(ValueError, match="5400 s horizon"):
        build_fall_odds([hourly([100.0] * 30, [100.0] * 30)], horizon_s=5_400)


def test_sigma_daily_is_the_realised_volatility_of_the_last_window():
    # Alternating ±1 % hourly log returns: σ per day = 1 % · √24.
    prices = [(k * HOUR, D(repr(100 * math.exp(0.01 * (k % 2))))) for k in range(48)]
    sigma = sigma_daily(prices, now=47 * HOUR, window_s=86_400)
    assert sigma is not None
    assert float(sigma) == pytest.approx(0.01 * math.sqrt(24), rel=1e-9)
    assert sigma_daily(prices[:5], now=4 * HOUR, window_s=86_400) is None  # too few prices
