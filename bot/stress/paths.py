"""Price paths for the stress lab: a regime-aware block bootstrap of real bars.

Pure: numpy arrays in, numpy arrays out (no files, no clock, no global random state).

A bar is kept as four log ratios, so a block of real bars can be glued onto any price:
``gap = ln(open / previous close)``, ``up = ln(high / open)``, ``down = ln(low / open)`` and
``body = ln(close / open)``, and its traded value in quote (volume × close: the market model's
depth follows it, and coins of 2020 are not coins of 2025). Blocks of ``block`` consecutive bars are copied from the history
(never across two series). **Regime-aware:** every history bar carries the realised volatility
of the ``window`` close-to-close returns before it, bucketed at the history's quantiles
(``QUANTILES``); each next block starts at a history bar of the same bucket as the path's own
trailing realised volatility, so a path that has just crashed keeps drawing crash-time blocks
(volatility clusters as it does in the data) and a calm path stays calm until a calm-time block
turns. Each series' mean return is taken out of its bars (drift-free): a path's moves come from
the history's volatility and its clustering, not from the way the chosen windows happened to
trend (the crash windows alone fall ~40 % per 10 days on average). A path's first block starts at a uniformly drawn history bar, whose preceding ``window``
returns seed the path's state.

Reproducible per path: path ``i`` draws only from ``numpy.random.default_rng([seed, i])``, so
a path is the same whichever chunk or process generates it.

API: ``bar_history(series, window=...)`` once per bar size, then ``bootstrap(history,
path_ids, seed=..., horizon=..., block=...)`` → ``(len(path_ids), horizon, 5)`` OHLC and quote
volume of paths opening at 1.0 (``scaled`` moves them to a start price). ``aggregate`` turns finer candles into coarser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUANTILES = (0.5, 0.8, 0.95)  # regime bucket edges: calm, normal, stressed, crash


@dataclass(frozen=True)
class BarHistory:
    """Bars of one size from one or more series, ready to bootstrap."""

    bars: np.ndarray  # (n, 5) float64: gap, up, down, body (log ratios), quote volume
    starts: tuple[np.ndarray, ...]  # per regime bucket: the bars a block may start at
    edges: np.ndarray  # realised-volatility bucket edges (per bar, of log returns)
    window: int  # returns in the realised-volatility window

    @property
    def all_starts(self) -> np.ndarray:
        return np.sort(np.concatenate(self.starts))


def log_bars(ohlcv: np.ndarray) -> np.ndarray:
    """(n, 5) OHLC + coin volume → (n, 5) gap, up, down, body, quote volume; the first gap is 0."""
    o, h, lo, c = (np.log(ohlcv[:, k]) for k in range(4))
    gap = np.empty_like(o)
    gap[0] = 0.0
    gap[1:] = o[1:] - c[:-1]
    return np.stack([gap, h - o, lo - o, c - o, ohlcv[:, 4] * ohlcv[:, 3]], axis=1)


def bar_history(series: Sequence[np.ndarray], *, window: int, block: int) -> BarHistory:
    """Pool ``series`` ((n_i, 5) OHLCV arrays of one bar size, each contiguous) for bootstrapping
    blocks of ``block`` bars with a realised-volatility state over ``window`` returns."""
    if window < 1 or block < 1:
        raise ValueError("window and block must be at least one bar")
    bars, rv, valid = [], [], []
    offset = 0
    for ohlc in series:
        n = len(ohlc)
        if n < window + block + 1:
            continue  # too short to seed a state and copy a block
        lb = log_bars(np.asarray(ohlc, dtype=np.float64))
        lb[:, 3] -= np.mean(lb[:, 0] + lb[:, 3])  # drift-free (``ohlc_of`` keeps the close within the range)
        ret = lb[:, 0] + lb[:, 3]  # close-to-close log return (the first is open-to-close)
        csum = np.concatenate([[0.0], np.cumsum(ret * ret)])
        idx = np.arange(n)
        trailing = np.full(n, np.nan)
        ok = idx >= window
        trailing[ok] = np.sqrt((csum[idx[ok]] - csum[idx[ok] - window]) / window)
        bars.append(lb)
        rv.append(trailing)
        valid.append(offset + idx[ok & (idx + block <= n)])
        offset += n
    if not bars:
        raise ValueError(f"no series is longer than {window + block} bars")
    all_bars, all_rv, starts = np.concatenate(bars), np.concatenate(rv), np.concatenate(valid)
    edges = np.quantile(all_rv[starts], QUANTILES)
    bucket = np.searchsorted(edges, all_rv[starts], side="right")
    per_bucket = tuple(starts[bucket == b] for b in range(len(QUANTILES) + 1))
    return BarHistory(all_bars, per_bucket, edges, window)


def bootstrap(history: BarHistory, path_ids: np.ndarray, *, seed: int, horizon: int, block: int) -> np.ndarray:
    """OHLC and quote volume of the paths ``path_ids`` (``(k, horizon, 5)``, opening at 1.0)."""
    if horizon < 1 or block < 1:
        raise ValueError("horizon and block must be at least one bar")
    ids = np.asarray(path_ids, dtype=np.int64)
    k, w = len(ids), history.window
    n_blocks = -(-horizon // block)
    # One uniform per block per path, from the path's own generator.
    u = np.stack([np.random.default_rng([seed, int(i)]).random(n_blocks) for i in ids]) if k else np.zeros((0, 0))
    every = history.all_starts
    lb = history.bars
    out = np.empty((k, n_blocks * block, 5))
    ret = np.empty((k, w + n_blocks * block))  # close-to-close returns: the seed window, then the path
    if k == 0:
        return out[:, :horizon]
    first = every[np.minimum((u[:, 0] * len(every)).astype(np.int64), len(every) - 1)]
    seed_rows = first[:, None] + np.arange(-w, 0)[None, :]
    ret[:, :w] = lb[seed_rows, 0] + lb[seed_rows, 3]
    at = first
    offsets = np.arange(block)
    for b in range(n_blocks):
        if b:
            recent = ret[:, w + b * block - w : w + b * block]
            state = np.searchsorted(history.edges, np.sqrt(np.mean(recent * recent, axis=1)), side="right")
            at = np.empty(k, dtype=np.int64)
            for s in range(len(history.starts)):
                mine = state == s
                if mine.any():
                    pool = _nearest_pool(history.starts, s)
                    at[mine] = pool[np.minimum((u[mine, b] * len(pool)).astype(np.int64), len(pool) - 1)]
        rows = lb[at[:, None] + offsets[None, :]]  # (k, block, 4)
        out[:, b * block : (b + 1) * block] = rows
        ret[:, w + b * block : w + (b + 1) * block] = rows[:, :, 0] + rows[:, :, 3]
    return ohlc_of(out[:, :horizon])


def _nearest_pool(starts: tuple[np.ndarray, ...], bucket: int) -> np.ndarray:
    """The bucket's start bars, or the nearest non-empty bucket's (ties: the calmer)."""
    for d in range(len(starts)):
        for b in (bucket - d, bucket + d):
            if 0 <= b < len(starts) and len(starts[b]):
                return starts[b]
    raise ValueError("an empty history")


def ohlc_of(bars: np.ndarray) -> np.ndarray:
    """(k, n, 5) gap/up/down/body/quote volume → (k, n, 5) OHLC opening at 1.0 and quote volume
    (the first gap is ignored)."""
    step = bars[:, :, 0] + bars[:, :, 3]
    step[:, 0] = bars[:, 0, 3]
    log_close = np.cumsum(step, axis=1)
    log_open = log_close - bars[:, :, 3]
    o = np.exp(log_open)
    out = np.stack(
        [o, o * np.exp(bars[:, :, 1]), o * np.exp(bars[:, :, 2]), np.exp(log_close), bars[:, :, 4]],
        axis=2,
    )
    # exp() of sums can land a hair outside the bar's range: keep low ≤ open, close ≤ high.
    out[:, :, 1] = np.maximum(out[:, :, 1], np.maximum(out[:, :, 0], out[:, :, 3]))
    out[:, :, 2] = np.minimum(out[:, :, 2], np.minimum(out[:, :, 0], out[:, :, 3]))
    return out


def aggregate(timestamp: np.ndarray, ohlc: np.ndarray, bar_s: int) -> np.ndarray:
    """Candles (open times in seconds, (n, 5) OHLCV) → (m, 5) OHLCV of whole ``bar_s`` bars
    aligned to multiples of ``bar_s`` (partial bars at either end are dropped)."""
    step = int(np.min(np.diff(timestamp))) if len(timestamp) > 1 else bar_s
    if bar_s % step:
        raise ValueError(f"{bar_s}s bars cannot be built from {step}s bars")
    per = bar_s // step
    if per == 1:
        return np.asarray(ohlc, dtype=np.float64)
    group = timestamp // bar_s
    cut = np.flatnonzero(np.diff(group)) + 1
    bounds = np.concatenate([[0], cut, [len(timestamp)]])
    whole = np.flatnonzero(np.diff(bounds) == per)
    lo, hi = bounds[whole], bounds[whole + 1]
    return np.stack(
        [
            ohlc[lo, 0],
            np.maximum.reduceat(ohlc[:, 1], bounds[:-1])[whole],
            np.minimum.reduceat(ohlc[:, 2], bounds[:-1])[whole],
            ohlc[hi - 1, 3],
            np.add.reduceat(ohlc[:, 4], bounds[:-1])[whole],
        ],
        axis=1,
    )


def scaled(paths: np.ndarray, start_price: float) -> np.ndarray:
    """Paths opening at 1.0 moved to ``start_price``: prices scale, quote volume becomes coins."""
    out = paths.copy()
    out[..., :4] *= start_price
    out[..., 4] = paths[..., 4] / out[..., 3]
    return out
