"""The emulator's candles: minute bars of each market's reference price, served as Binance's
``GET /api/v3/klines``.

Every reference price the emulator uses (a book, a ticker, an order) or samples (the
background ticker, every ``poll_interval_s``) lands in the minute bar of the market clock,
so the history follows the devnet oracle and ``devnet set-price`` moves. Longer intervals
aggregate the minute bars; a bucket with no price carries the previous close (Binance prints
zero-volume bars too). Volumes are zero: the history is of prices, not trades.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.devnet.exchange import apierrors
from bot.devnet.exchange.accounts import fmt

MINUTE_MS = 60_000
INTERVALS_MS = {
    name: minutes * MINUTE_MS
    for name, minutes in {
        "1m": 1,
        "3m": 3,
        "5m": 5,
        "15m": 15,
        "30m": 30,
        "1h": 60,
        "2h": 120,
        "4h": 240,
        "6h": 360,
        "8h": 480,
        "12h": 720,
        "1d": 1440,
    }.items()
}
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
KEEP_MINUTES = 7 * 1440  # a week of minute bars per market
ZERO_QTY = "0.00000000"


class PriceHistory:
    """Minute bars [open, high, low, close] by market, keyed by the bar's open time (ms)."""

    def __init__(self, keep_minutes: int = KEEP_MINUTES) -> None:
        self._keep = keep_minutes
        self._opens: dict[str, list[int]] = {}
        self._bars: dict[str, dict[int, list[Decimal]]] = {}

    def record(self, symbol: str, at_s: float, price: Decimal) -> None:
        minute = int(at_s * 1000) // MINUTE_MS * MINUTE_MS
        bars = self._bars.setdefault(symbol, {})
        bar = bars.get(minute)
        if bar is not None:
            bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price
            return
        bars[minute] = [price, price, price, price]
        opens = self._opens.setdefault(symbol, [])
        bisect.insort(opens, minute)
        while len(opens) > self._keep:
            del bars[opens.pop(0)]

    def klines(
        self, symbol: str, interval_ms: int, *, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
    ) -> list[list[Any]]:
        opens = self._opens.get(symbol)
        if not opens:
            return []
        first = opens[0] // interval_ms * interval_ms
        last = max(now_ms, opens[-1]) // interval_ms * interval_ms
        if end_ms is not None:
            last = min(last, end_ms // interval_ms * interval_ms)
        if start_ms is not None:
            lo = max(first, -(-start_ms // interval_ms) * interval_ms)
            buckets = range(lo, min(last, lo + (limit - 1) * interval_ms) + 1, interval_ms)
        else:
            lo = max(first, last - (limit - 1) * interval_ms)
            buckets = range(lo, last + 1, interval_ms)
        return [self._kline(symbol, opens, b, interval_ms) for b in buckets]

    def _kline(self, symbol: str, opens: list[int], start: int, interval_ms: int) -> list[Any]:
        bars = self._bars[symbol]
        i, j = bisect.bisect_left(opens, start), bisect.bisect_left(opens, start + interval_ms)
        if i < j:
            inside = [bars[opens[k]] for k in range(i, j)]
            o, h, lo, c = inside[0][0], max(b[1] for b in inside), min(b[2] for b in inside), inside[-1][3]
        else:  # no price in this bucket: flat at the previous close
            c = bars[opens[i - 1]][3]
            o = h = lo = c
        return [
            start,
            fmt(o),
            fmt(h),
            fmt(lo),
            fmt(c),
            ZERO_QTY,
            start + interval_ms - 1,
            ZERO_QTY,
            0,
            ZERO_QTY,
            ZERO_QTY,
            "0",
        ]


def parse_request(params: Mapping[str, str], parse_int: Any) -> tuple[int, int | None, int | None, int]:
    """(interval ms, startTime, endTime, limit) of a klines request, refused as Binance does."""
    interval = params.get("interval")
    if not interval:
        raise apierrors.mandatory("interval")
    if interval not in INTERVALS_MS:
        raise apierrors.ApiError(400, -1120, "Invalid interval.")
    start, end, limit = parse_int(params, "startTime"), parse_int(params, "endTime"), parse_int(params, "limit")
    if start is not None and end is not None and start > end:
        raise apierrors.ApiError(400, -1023, "Start time is greater than end time.")
    limit = DEFAULT_LIMIT if limit is None else min(max(limit, 1), MAX_LIMIT)
    return INTERVALS_MS[interval], start, end, limit
