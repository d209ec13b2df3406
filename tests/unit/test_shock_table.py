"""The in-transit shock from history: worst falls over a horizon, bucketed by the regime's σ,
a quantile per cell, monotone in the quantile, the regime and the horizon, floored."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.shock_table import PriceSeries, ShockTable, build_shock_table, trailing_sigma_daily, worst_falls
from bot.engine.volatility import FLOOR, history_shock

D = Decimal
T0 = 1_770_000_000


def test_the_worst_fall_is_the_lowest_low_of_the_next_bars_against_the_close_now() -> None:
    lows = [100.0, 99.0, 98.0, 97.0, 100.0, 95.0]
    falls = worst_falls(lows, [100.0] * 6, 2)
    assert falls == pytest.approx([0.02, 0.03, 0.03, 0.05])
    assert worst_falls(lows, [100.0] * 6, 5) == pytest.approx([0.05])
    assert worst_falls(lows, [100.0] * 6, 6) == []


def test_the_regime_sigma_waits_for_a_whole_window_then_reads_only_it() -> None:
    # closes ×1.01 then ÷1.01 each hour: |r| = ln 1.01 per 3600 s → σ·√day = ln 1.01 · √24.
    closes = [100.0 * (1.01 if i % 2 else 1.0) for i in range(30)]
    stamps = [T0 + 3_600 * i for i in range(30)]
    sigma = trailing_sigma_daily(stamps, closes, 86_400)
    assert sigma[:24] == [None] * 24
    assert sigma[24] == pytest.approx(math.log(1.01) * math.sqrt(24))


def _series(name: str, closes: list[float], dip: float, every: int) -> PriceSeries:
    """Hourly candles at ``closes`` whose low is ``dip`` under the close every ``every`` hours."""
    lows = [c * (1 - dip) if i % every == 0 else c for i, c in enumerate(closes)]
    return PriceSeries(name, 3_600, [T0 + 3_600 * i for i in range(len(closes))], lows, closes)


def test_each_regime_keeps_its_own_quantile_and_a_thin_one_borrows_from_a_livelier() -> None:
    calm = _series("calm", [100.0] * 400, 0.01, 10)  # σ 0: regime 0, a 1 % fall every 10 h
    wild = _series("wild", [100.0 * (1.05 if i % 2 else 1.0) for i in range(400)], 0.08, 10)  # σ 23 %/day
    table = build_shock_table(
        [calm, wild], quantile=D("0.95"), horizons_s=(3_600, 7_200), regime_edges_bps=(100, 1_000, 2_000)
    )
    assert table.samples == ((375, 374), (0, 0), (0, 0), (375, 374))
    # calm: 1 h falls are 1 % in a tenth of the starts; over 2 h in a fifth: the 95 % quantile is 1 %.
    # wild: an 8 % dip under a close of 100 or 105 seen from 105 → 1 − 0.92·100/105 = 12.4 %.
    assert table.bps == ((100, 100), (1_239, 1_239), (1_239, 1_239), (1_239, 1_239))
    assert table.regime(D("0.005")) == 0 and table.regime(D("0.23")) == 3
    assert table.regime_text(0) == "0–1 %/day" and table.regime_text(3) == "≥ 20 %/day"


def test_between_horizons_the_shock_follows_the_square_root_and_grows_beyond_the_last() -> None:
    table = ShockTable(D("0.999"), (60, 240), (300,), ((100, 200), (400, 500)), ((1, 1), (1, 1)))
    calm, wild = D("0.01"), D("0.05")
    assert [table.shock_bps(h, calm) for h in (30, 60, 150, 240)] == [100, 100, 159, 200]
    assert table.shock_bps(960, calm) == 400  # 200 · √(960/240)
    assert table.shock_bps(150, wild) == 459


def _table(quantile: str) -> ShockTable:
    return build_shock_table(
        [_series("a", [100.0 + (i * 37 % 11) for i in range(300)], 0.03, 7)],
        quantile=D(quantile),
        horizons_s=(3_600, 7_200, 14_400),
        regime_edges_bps=(500,),
    )


def _minutes(n: int, swing: str) -> tuple[tuple[int, Decimal], ...]:
    return tuple((T0 - 60 * (n - i), D(2000) * (1 + D(swing) * (i % 2))) for i in range(n))


def test_the_shock_names_the_quantile_the_regime_and_the_candles_or_why_it_is_the_floor() -> None:
    table = ShockTable(D("0.999"), (60, 240), (300,), ((100, 200), (400, 500)), ((1, 1), (1, 1)), source="test data")
    history = _minutes(60, "0.001")  # |r| = ln 1.001 a minute: σ 3.8 %/day, the second regime
    shock = history_shock(table, history, source="1m candles", now=T0, horizon_s=150, floor_bps=300)
    assert (shock.bps, shock.source) == (
        459,
        "history: 99.9 % worst fall over a 150 s round trip at σ 3.8 %/day "
        "(regime ≥ 3 %/day; σ from 60 × 1m candles; test data)",
    )
    low = history_shock(table, history, source="1m candles", now=T0, horizon_s=150, floor_bps=600)
    assert (
        low.bps == 600 and low.source.startswith(f"{FLOOR} (history: 99.9 %") and low.source.endswith("gives 459 bps)")
    )
    none = history_shock(table, (), source="candles unavailable: klines HTTP 503", now=T0, horizon_s=150, floor_bps=300)
    assert (none.bps, none.source) == (300, f"{FLOOR} (candles unavailable: klines HTTP 503)")
    few = history_shock(table, history[-5:], source="1m candles", now=T0, horizon_s=150, floor_bps=300)
    assert (few.bps, few.source) == (300, f"{FLOOR} (no regime σ from 5 of 5 prices within 86400 s)")
    capped = history_shock(table, history, source="1m candles", now=T0, horizon_s=150, floor_bps=300, max_bps=400)
    assert capped.bps == 400 and capped.source.startswith("cap: 400 bps (history:")


QUANTILES = st.decimals(min_value=D("0.5"), max_value=D("0.9999"), places=4)


@settings(max_examples=25, deadline=None)
@given(q1=QUANTILES, q2=QUANTILES, h1=st.integers(1, 200_000), h2=st.integers(1, 200_000))
def test_the_shock_never_shrinks_with_the_quantile_or_the_horizon(q1: Decimal, q2: Decimal, h1: int, h2: int) -> None:
    (q1, q2), (h1, h2) = sorted((q1, q2)), sorted((h1, h2))
    low, high = _table(str(q1)), _table(str(q2))
    for sigma in (D(0), D("0.04"), D("0.2")):
        assert low.shock_bps(h1, sigma) <= high.shock_bps(h1, sigma) <= high.shock_bps(h2, sigma)
        assert low.shock_bps(h1, sigma) <= low.shock_bps(h1, sigma + D("0.05"))  # livelier: never smaller


@settings(max_examples=50, deadline=None)
@given(floor=st.integers(0, 8_999), horizon=st.integers(0, 200_000), swing=st.sampled_from(["0", "0.0005", "0.01"]))
def test_the_shock_is_never_below_the_floor(floor: int, horizon: int, swing: str) -> None:
    table = _table("0.999")
    shock = history_shock(
        table, _minutes(60, swing), source="1m", now=T0, horizon_s=horizon, floor_bps=floor, max_bps=9_999
    )
    assert shock.bps >= floor
