"""The stress lab's pure parts: the regime-aware block bootstrap, bar aggregation, the Wilson
interval and the nearest-rank tail statistics."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from bot.stress.jumps import fit, simulate
from bot.stress.paths import aggregate, bar_history, bootstrap, scaled
from bot.stress.stats import PathOutcome, cvar, nearest_rank, summarise_policy, wilson


def walk(sigma: float, n: int, seed: int) -> np.ndarray:
    """(n, 5) OHLCV of a driftless random walk with per-bar volatility ``sigma``."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return np.stack(
        [open_, np.maximum(open_, close) * 1.0001, np.minimum(open_, close) * 0.9999, close, np.full(n, 10.0)], axis=1
    )


CALM, WILD = walk(0.001, 4000, 1), walk(0.05, 4000, 2)


def per_path_vol(paths: np.ndarray) -> np.ndarray:
    return np.std(np.diff(np.log(paths[:, :, 3]), axis=1), axis=1)


def test_a_path_stays_in_the_regime_it_starts_in():
    history = bar_history([CALM, WILD], window=10, block=5)
    paths = bootstrap(history, np.arange(200), seed=3, horizon=300, block=5)
    vol = per_path_vol(paths)
    calm, wild = vol < 0.002, vol > 0.03
    # Every path is all calm or all wild (a block is drawn from the state its trailing returns show) …
    assert np.all(calm | wild)
    # … and both regimes are drawn, about as often as the history holds them.
    assert 60 <= calm.sum() <= 140


def test_blocks_drawn_regardless_of_regime_would_mix_the_two():
    """The control for the test above: one regime bucket (a single quantile edge at the top)
    lets a calm path draw wild blocks."""
    history = bar_history([CALM, WILD], window=10, block=5)
    one_bucket = type(history)(history.bars, (history.all_starts,), np.array([]), history.window)
    vol = per_path_vol(bootstrap(one_bucket, np.arange(200), seed=3, horizon=300, block=5))
    assert np.all((vol > 0.002) & (vol < 0.05))


def test_a_path_is_the_same_whichever_chunk_generates_it():
    history = bar_history([CALM, WILD], window=10, block=5)
    whole = bootstrap(history, np.arange(10), seed=9, horizon=50, block=5)
    part = bootstrap(history, np.arange(6, 8), seed=9, horizon=50, block=5)
    assert np.array_equal(part, whole[6:8])
    assert not np.array_equal(bootstrap(history, np.arange(10), seed=10, horizon=50, block=5), whole)


def test_paths_are_valid_candles_opening_at_the_start_price():
    history = bar_history([CALM, WILD], window=10, block=7)
    paths = scaled(bootstrap(history, np.arange(20), seed=1, horizon=31, block=7), 2000.0)
    o, h, lo, c, v = (paths[:, :, k] for k in range(5))
    assert paths.shape == (20, 31, 5)
    assert np.all(o[:, 0] == 2000.0)
    assert np.all(lo <= np.minimum(o, c)) and np.all(h >= np.maximum(o, c))
    assert np.all(v > 0)


def test_the_history_is_drift_free():
    falling = walk(0.01, 3000, 4)
    falling[:, :4] *= np.exp(-0.001 * np.arange(3000))[:, None]
    history = bar_history([falling], window=10, block=5)
    assert abs(float(np.sum(history.bars[:, 0] + history.bars[:, 3]))) < 1e-9


def test_aggregate_builds_whole_coarser_bars():
    ts = 600 + 60 * np.arange(12)  # 00:10 .. 00:21: the first 5-minute bar (00:10) is whole
    ohlcv = np.array([[10 + k, 20 + k, 1 + k, 11 + k, 1.0] for k in range(12)], dtype=float)
    bars = aggregate(ts, ohlcv, 300)
    assert bars.tolist() == [[10, 24, 1, 15, 5.0], [15, 29, 6, 20, 5.0]]  # 00:20 bar is partial: dropped
    with pytest.raises(ValueError):
        aggregate(ts, ohlcv, 90)


def test_wilson_interval_matches_the_textbook_values():
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10)
    assert (lo, round(hi, 4)) == (0.0, 0.2775)


def test_tail_statistics_are_values_some_path_had():
    values = sorted(Decimal(k) for k in range(1, 101))
    assert nearest_rank(values, 0.95) == Decimal(95)
    assert nearest_rank(values, 0.5) == Decimal(50)
    assert cvar(values, 0.95) == Decimal("98.00")  # the mean of the worst five: 96..100


def test_a_policy_summary_counts_paths_and_liquidations():
    def outcome(liq: bool, shortfall: str, ttt: int | None) -> PathOutcome:
        return PathOutcome(liq, shortfall, "0.00", "-1.00", "1.2000", ttt, ttt is not None)

    row = summarise_policy([outcome(True, "10.00", None), outcome(False, "30.00", 600), outcome(False, "20.00", 60)])
    assert row["paths"] == 3 and row["liquidated_paths"] == 1
    assert row["p_liquidation"] == "0.333333"
    assert row["shortfall_usd_mean"] == "20.00" and row["shortfall_usd_p95"] == "30.00"
    assert row["time_to_target_s_median"] == 60 and row["acted_paths"] == 2


def synthetic_bars(n: int, seed: int) -> np.ndarray:
    """(n, 5) bars with σ = 1 % returns and a -10 % ± 2 % jump on 1 % of bars."""
    rng = np.random.default_rng(seed)
    ret = 0.01 * rng.standard_normal(n) + (rng.random(n) < 0.01) * rng.normal(-0.10, 0.02, n)
    return np.stack(
        [np.zeros(n), np.full(n, 0.004) + np.maximum(ret, 0), np.minimum(ret, 0) - 0.004, ret, np.full(n, 5.0)], 1
    )


def test_the_jump_diffusion_recovers_the_parameters_it_was_fitted_to():
    model = fit(synthetic_bars(200_000, 1))
    assert model.sigma == pytest.approx(0.01, rel=0.03)
    assert model.jump_rate == pytest.approx(0.01, rel=0.1)
    assert model.jump_mean == pytest.approx(-0.10, rel=0.05)
    assert model.jump_sd == pytest.approx(0.02, rel=0.15)
    assert model.quote_volume == 5.0


def test_jump_paths_are_valid_per_path_reproducible_candles():
    model = fit(synthetic_bars(20_000, 2))
    whole = simulate(model, np.arange(8), seed=4, horizon=500)
    assert np.array_equal(simulate(model, np.arange(5, 7), seed=4, horizon=500), whole[5:7])
    o, h, lo, c = (whole[:, :, k] for k in range(4))
    assert np.all(o[:, 0] == 1.0) and np.array_equal(o[:, 1:], c[:, :-1])
    assert np.all(lo <= np.minimum(o, c)) and np.all(h >= np.maximum(o, c))
    steps = np.diff(np.log(c), axis=1)
    assert np.mean(steps < -0.05) == pytest.approx(0.01, abs=0.004)  # the jumps are there, at their rate
