"""The in-transit price shock from history: a high quantile of the worst fall over a round trip.

For every candle of a price series and every horizon ``h`` of the table, the worst fall is
``1 − min(low over the next h seconds) / close now``. The falls are bucketed by the regime at
their start — the realised volatility of the closes over the trailing ``regime_window_s``, per
day — and each (regime, horizon) cell keeps its ``quantile``. A cell with too few falls takes
the next livelier regime's (the safe side). The table is then made monotone: a livelier regime
or a longer horizon never gets a smaller shock. Between horizons the shock is interpolated in
√h; beyond the longest it grows with √h.

Pure: the series come in as plain sequences (``bot.compose.shock_history`` reads them).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from itertools import accumulate

D = Decimal
SECONDS_PER_DAY = 86_400
# Horizons the table is measured at (seconds): from one minute to a day.
HORIZONS_S = (60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400)
# Regime edges, realised σ in bps per day: calm below 3 %/day, then 3–4.5, 4.5–7, 7–10, above 10.
REGIME_EDGES_BPS = (300, 450, 700, 1_000)
REGIME_WINDOW_S = SECONDS_PER_DAY
# A cell with fewer falls than this takes the next livelier regime's quantile.
MIN_CELL_SAMPLES = 100


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One candle series, oldest first: open times (UNIX s), lows and closes."""

    name: str
    interval_s: int
    timestamps: Sequence[int]
    lows: Sequence[float]
    closes: Sequence[float]


@dataclass(frozen=True, slots=True)
class ShockTable:
    quantile: Decimal
    horizons_s: tuple[int, ...]
    regime_edges_bps: tuple[int, ...]  # realised σ per day; regime i is [edge[i-1], edge[i])
    bps: tuple[tuple[int, ...], ...]  # [regime][horizon], rounded up
    samples: tuple[tuple[int, ...], ...]  # falls measured per cell (before borrowing)
    regime_window_s: int = REGIME_WINDOW_S
    source: str = ""  # what the falls were measured on

    def regime(self, sigma_daily: Decimal) -> int:
        return bisect.bisect_right(self.regime_edges_bps, sigma_daily * 10_000)

    def regime_text(self, regime: int) -> str:
        edges = self.regime_edges_bps
        low = f"{D(edges[regime - 1]) / 100:g}" if regime > 0 else "0"
        if regime >= len(edges):
            return f"≥ {low} %/day"
        return f"{low}–{D(edges[regime]) / 100:g} %/day"

    def shock_bps(self, horizon_s: int, sigma_daily: Decimal) -> int:
        """The quantile fall over ``horizon_s`` in the regime of ``sigma_daily``, in bps (up)."""
        row = self.bps[self.regime(sigma_daily)]
        hs = self.horizons_s
        if horizon_s <= hs[0]:
            return row[0]
        if horizon_s >= hs[-1]:
            grown = D(row[-1]) * (D(horizon_s) / D(hs[-1])).sqrt()
            return min(9_999, int(grown.to_integral_value(rounding=ROUND_CEILING)))
        i = bisect.bisect_right(hs, horizon_s) - 1
        lo, hi = D(hs[i]).sqrt(), D(hs[i + 1]).sqrt()
        share = (D(horizon_s).sqrt() - lo) / (hi - lo)
        value = D(row[i]) + share * (row[i + 1] - row[i])
        return int(value.to_integral_value(rounding=ROUND_CEILING))


def trailing_sigma_daily(timestamps: Sequence[int], closes: Sequence[float], window_s: int) -> list[float | None]:
    """Per candle, the realised σ per day of the log returns of the closes within the trailing
    ``window_s`` (sqrt(Σr² / Σdt) · √day, gaps allowed); None until a whole window is behind."""
    n = len(closes)
    if n < 2:
        return [None] * n
    logs = [math.log(c) for c in closes]
    squares = list(accumulate(((logs[k] - logs[k - 1]) ** 2 for k in range(1, n)), initial=0.0))
    first, lo = timestamps[0], 0
    out: list[float | None] = []
    for i, t in enumerate(timestamps):
        while timestamps[lo] < t - window_s:
            lo += 1
        if t - first < window_s or i == lo:
            out.append(None)
            continue
        out.append(math.sqrt((squares[i] - squares[lo]) / (t - timestamps[lo]) * SECONDS_PER_DAY))
    return out


def worst_falls(lows: Sequence[float], closes: Sequence[float], bars: int) -> list[float]:
    """For each start i with ``bars`` candles after it: 1 − min(lows[i+1 … i+bars]) / closes[i]."""
    n = len(closes)
    if bars < 1 or n <= bars:
        return []
    # Sliding minimum by doubling: level p holds the minimum of 2^p lows from each index.
    levels = [list(lows)]
    while 2 ** len(levels) <= bars:
        prev, step = levels[-1], 2 ** (len(levels) - 1)
        levels.append([a if a < b else b for a, b in zip(prev, prev[step:], strict=False)])
    p = len(levels) - 1
    level, shift = levels[p], bars - 2**p
    mins = [a if a < b else b for a, b in zip(level[1 : n - bars + 1], level[1 + shift :], strict=False)]
    return [1.0 - m / c for m, c in zip(mins, closes, strict=False)]


def build_shock_table(
    series: Sequence[PriceSeries],
    *,
    quantile: Decimal,
    horizons_s: Sequence[int] = HORIZONS_S,
    regime_edges_bps: Sequence[int] = REGIME_EDGES_BPS,
    regime_window_s: int = REGIME_WINDOW_S,
    min_cell_samples: int = MIN_CELL_SAMPLES,
    source: str = "",
) -> ShockTable:
    """The table of ``quantile`` worst falls per (regime, horizon) over ``series``. A horizon
    is measured on the series whose candle interval divides it, over spans without gaps."""
    if not D(0) < quantile < D(1):
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    regimes = len(regime_edges_bps) + 1
    edges = [e / 10_000 for e in regime_edges_bps]
    cells: list[list[list[float]]] = [[[] for _ in horizons_s] for _ in range(regimes)]
    for s in series:
        sigma = trailing_sigma_daily(s.timestamps, s.closes, regime_window_s)
        regime = [-1 if v is None else bisect.bisect_right(edges, v) for v in sigma]
        ts = s.timestamps
        for j, h in enumerate(horizons_s):
            if h < s.interval_s or h % s.interval_s:
                continue
            bars = h // s.interval_s
            falls = worst_falls(s.lows, s.closes, bars)
            # A start whose horizon spans a gap in the candles is not a measure of h.
            starts = [r if b - a == h else -1 for r, a, b in zip(regime, ts, ts[bars:], strict=False)]
            for r in range(regimes):
                cells[r][j].extend(f for f, g in zip(falls, starts, strict=False) if g == r)
    measured = [j for j in range(len(horizons_s)) if any(cells[r][j] for r in range(regimes))]
    if not measured:
        raise ValueError("no price series covers any horizon of the table")
    samples = tuple(tuple(len(cells[r][j]) for j in measured) for r in range(regimes))
    table: list[list[float]] = [[0.0] * len(measured) for _ in range(regimes)]
    for col, j in enumerate(measured):
        borrowed = _quantile([f for r in range(regimes) for f in cells[r][j]], quantile)
        for r in reversed(range(regimes)):  # livelier regimes first: a thin cell borrows from above
            falls = cells[r][j]
            if len(falls) >= min_cell_samples:
                borrowed = _quantile(falls, quantile)
            table[r][col] = borrowed
    for r in range(regimes):  # never smaller for a livelier regime or a longer horizon
        for col in range(len(measured)):
            table[r][col] = max(table[r][col], table[r - 1][col] if r else 0.0, table[r][col - 1] if col else 0.0)
    return ShockTable(
        quantile=quantile,
        horizons_s=tuple(horizons_s[j] for j in measured),
        regime_edges_bps=tuple(regime_edges_bps),
        bps=tuple(tuple(min(9_999, math.ceil(round(v * 10_000, 6))) for v in row) for row in table),  # float noise off
        samples=samples,
        regime_window_s=regime_window_s,
        source=source,
    )


def _quantile(values: Sequence[float], q: Decimal) -> float:
    """The empirical ``q`` quantile: the smallest value with at least q of the data at or below
    it (the k-th largest, found without sorting everything)."""
    if not values:
        return 0.0
    rank = min(len(values), max(1, math.ceil(D(len(values)) * q)))
    return heapq.nlargest(len(values) - rank + 1, values)[-1]
