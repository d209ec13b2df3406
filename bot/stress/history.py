"""The shipped history the bootstrap draws from: the hourly 2025 series and the 1- and 5-minute
crash windows (``bot/backtest/data``), each turned into bars of the requested size.

A series enters when its bars divide the requested bar: 5-minute paths draw from the 5-minute
windows and the 1-minute windows summed to 5 minutes; hourly paths draw from all of them (the
hourly year too). Minute-scale paths therefore draw from the crash windows only (each holds
calm days around its crash): a deliberately crash-heavy history, which the regime buckets keep
from turning calm paths into crashes without a volatile block first.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from bot.backtest import data
from bot.errors import UserInputError
from bot.stress.paths import BarHistory, aggregate, bar_history

HOURLY = "eth_usd_1h_2025.csv"
SERIES = (HOURLY, *data.CRASH_WINDOWS)


def ohlcv(c: data.Candles) -> np.ndarray:
    return np.stack([c.open, c.high, c.low, c.close, c.volume], axis=1)


@lru_cache(maxsize=8)
def shipped_history(bar_s: int, window: int, block: int) -> BarHistory:
    """Every shipped series whose bars divide ``bar_s``, as ``bar_s`` bars."""
    series = []
    for name in SERIES:
        c = data.shipped(name)
        if bar_s % c.interval_s:
            continue
        series.append(aggregate(c.timestamp, ohlcv(c), bar_s))
    if not series:
        raise UserInputError(f"no shipped history has bars that divide {bar_s}s: use --bar 1m or coarser")
    try:
        return bar_history(series, window=window, block=block)
    except ValueError as exc:
        raise UserInputError(f"--bar {bar_s}s: {exc}") from None


def last_close() -> float:
    """The newest shipped close: where bootstrapped paths start by default."""
    return float(data.shipped(data.CRASH_WINDOWS[-1]).close[-1])
