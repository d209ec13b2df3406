"""The odds that the price falls at least a given depth within a horizon, by regime, from history.

The same measure as the in-transit shock's table (``bot.domain.shock_table``): for every candle
the worst fall over the next ``horizon_s`` (``1 − min(low) / close``), bucketed by the regime
of the trailing realised σ at its start. Where the table keeps one quantile per cell, this keeps
every fall, so it answers the converse question: P(worst fall ≥ d | regime), the probability
that a liquidation price ``d`` below the market is reached within the horizon.

Safe side, as in the table: a regime with too few falls takes the next livelier one's, and a
livelier regime never gets smaller odds than a calmer one. Pure: series come in as
``PriceSeries`` (``bot.compose.shock_history`` reads the shipped ones).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bot.domain.shock_table import (
    MIN_CELL_SAMPLES,
    REGIME_EDGES_BPS,
    REGIME_WINDOW_S,
    SECONDS_PER_DAY,
    PriceSeries,
    trailing_sigma_daily,
    worst_falls,
)

D = Decimal
# Distances are stated to 1/100 bp: the next one above a measured fall.
DISTANCE_STEP = D("0.000001")
# Fewer prices than this in the regime window give no σ worth trusting (as the planner's shock).
MIN_POINTS = 10


@dataclass(frozen=True, slots=True)
class FallOdds:
    horizon_s: int
    regime_edges_bps: tuple[int, ...]  # realised σ per day; regime i is [edge[i-1], edge[i])
    falls: tuple[tuple[float, ...], ...]  # per regime, ascending, after thin cells borrowed
    pooled: tuple[float, ...] = ()  # every regime's, ascending: the odds when σ is unknown
    regime_window_s: int = REGIME_WINDOW_S
    source: str = ""

    def regime(self, sigma_daily: Decimal) -> int:
        return bisect.bisect_right(self.regime_edges_bps, sigma_daily * 10_000)

    def p_reach(self, distance: Decimal, sigma_daily: Decimal | None) -> Decimal:
        """P(the worst fall within the horizon ≥ ``distance``) in the regime of ``sigma_daily``
        (None: over all of history, regime unknown)."""
        if sigma_daily is None:
            return _share_at_least(self.pooled, float(distance))
        top = self.regime(sigma_daily)
        return max(_share_at_least(self.falls[r], float(distance)) for r in range(top + 1))

    def distance_for(self, budget: Decimal, sigma_daily: Decimal | None) -> Decimal:
        """The smallest distance whose ``p_reach`` is at most ``budget``."""
        if sigma_daily is None:
            return _distance_within(self.pooled, budget)
        top = self.regime(sigma_daily)
        return max(_distance_within(self.falls[r], budget) for r in range(top + 1))

    def widest_distance(self, budget: Decimal) -> Decimal:
        """The largest ``distance_for(budget, ·)`` over every regime and the unknown one."""
        return max(_distance_within(falls, budget) for falls in (*self.falls, self.pooled))


def _share_at_least(falls: Sequence[float], distance: float) -> Decimal:
    if not falls:
        return D(0)
    above = len(falls) - bisect.bisect_left(falls, distance)
    return D(above) / D(len(falls))


def _distance_within(falls: Sequence[float], budget: Decimal) -> Decimal:
    n = len(falls)
    allowed = int(budget * n)  # falls at or beyond the distance it may leave
    if allowed >= n:
        return D(0)
    worst_kept = D(repr(round(falls[n - allowed - 1], 9)))  # float noise off
    return max(D(0), worst_kept.quantize(DISTANCE_STEP, rounding=ROUND_CEILING) + DISTANCE_STEP)


def build_fall_odds(
    series: Sequence[PriceSeries],
    *,
    horizon_s: int,
    regime_edges_bps: Sequence[int] = REGIME_EDGES_BPS,
    regime_window_s: int = REGIME_WINDOW_S,
    min_cell_samples: int = MIN_CELL_SAMPLES,
    source: str = "",
) -> FallOdds:
    """Every worst fall over ``horizon_s`` in ``series`` (those whose candle interval divides
    it, over spans without gaps), bucketed by regime."""
    regimes = len(regime_edges_bps) + 1
    edges = [e / 10_000 for e in regime_edges_bps]
    cells: list[list[float]] = [[] for _ in range(regimes)]
    for s in series:
        if horizon_s < s.interval_s or horizon_s % s.interval_s:
            continue
        bars = horizon_s // s.interval_s
        sigma = trailing_sigma_daily(s.timestamps, s.closes, regime_window_s)
        ts = s.timestamps
        falls = worst_falls(s.lows, s.closes, bars)
        for f, v, a, b in zip(falls, sigma, ts, ts[bars:], strict=False):
            if v is not None and b - a == horizon_s:
                cells[bisect.bisect_right(edges, v)].append(round(max(0.0, f), 9))  # float noise off
    if not any(cells):
        raise ValueError(f"no price series covers a {horizon_s} s horizon")
    kept: list[tuple[float, ...]] = [()] * regimes
    pooled = borrowed = tuple(sorted(f for cell in cells for f in cell))
    for r in reversed(range(regimes)):  # livelier regimes first: a thin cell borrows from above
        if len(cells[r]) >= min_cell_samples:
            borrowed = tuple(sorted(cells[r]))
        kept[r] = borrowed
    return FallOdds(
        horizon_s=horizon_s,
        regime_edges_bps=tuple(regime_edges_bps),
        falls=tuple(kept),
        pooled=pooled,
        regime_window_s=regime_window_s,
        source=source,
    )


def sigma_daily(history: Sequence[tuple[int, Decimal]], *, now: int, window_s: int) -> Decimal | None:
    """Realised σ per day of the log returns of the prices within ``window_s`` of ``now``
    (sqrt(Σr² / Σdt) · √day, irregular spacing allowed); None with fewer than ``MIN_POINTS``."""
    recent = [(t, float(p)) for t, p in history if t >= now - window_s and p > 0]
    if len(recent) < MIN_POINTS:
        return None
    total_sq, total_dt = 0.0, 0
    for (t0, p0), (t1, p1) in zip(recent, recent[1:], strict=False):
        if t1 > t0:
            total_sq += math.log(p1 / p0) ** 2
            total_dt += t1 - t0
    if total_dt == 0:
        return None
    return D(repr(math.sqrt(total_sq / total_dt * SECONDS_PER_DAY)))
