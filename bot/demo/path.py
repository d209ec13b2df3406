"""The demo's price path: a real ETH crash from Binance 5-minute candles, resampled to
15-minute points and rescaled so it starts at the devnet's $2,000 (relative moves kept).

Pure apart from reading and writing small CSVs. ``build_path`` makes the CSVs shipped in
``bot/demo/data/`` (``python -m bot.demo.path SOURCE_DIR`` rebuilds them); ``load_path`` reads
one back. Each point is the close of the last candle of its 15-minute bucket, except the bucket
holding the window's lowest low, whose point is that low: a crash demo that skipped the bottom
would flatter the bot.

``Timelapse`` maps wall-clock seconds to market time. The demo cannot replay six days in two
minutes at one speed and stay honest about risk: at 5 h of market per second, one batch
(≈9 s of devnet round trip) would span 45 h of crash, far beyond any real round trip. So the
clock runs fast while the bot is idle and at round-trip scale (1 h of market per batch, a
conservative mainnet figure: deposit confirmations, the sell, the exchange's withdrawal) while
a batch is in flight. The bot therefore faces the real price moves of a realistic round trip.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")
CENT = Decimal("0.01")
BUCKET_S = 900  # 15-minute points
START_USD = Decimal(2000)  # the devnet's WETH price after `devnet up`


@dataclass(frozen=True, slots=True)
class Candle:
    timestamp: int  # UNIX seconds, candle open (UTC)
    low: Decimal
    close: Decimal


@dataclass(frozen=True, slots=True)
class PathPoint:
    step: int
    source_timestamp: int  # UNIX seconds of the source candle the point comes from
    source_price: Decimal  # ETH/USDT on Binance at that candle (close, or the low at the bottom)
    price_usd: Decimal  # rescaled: what the devnet oracle is set to


@dataclass(frozen=True, slots=True)
class Window:
    """A named crash window of a source candle file (``/work/shared/data`` layout)."""

    name: str
    title: str
    source_file: str
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC

    @property
    def csv_name(self) -> str:
        return f"eth_crash_{self.name}.csv"


WINDOWS: dict[str, Window] = {
    w.name: w
    for w in (
        Window(
            "2026-02",
            "ETH 31 Jan – 6 Feb 2026: $2,705 → $1,748 (−35 %)",
            "eth_usd_5m_2026-01-20_2026-02-15.csv",
            datetime(2026, 1, 31, tzinfo=UTC),
            datetime(2026, 2, 6, 12, tzinfo=UTC),
        ),
        Window(
            "2022-06",
            "ETH 10 – 15 Jun 2022 (Celsius, 3AC): $1,771 → $1,014 (−43 %)",
            "eth_usd_5m_2022-06-13.csv",
            datetime(2022, 6, 10, 12, tzinfo=UTC),
            datetime(2022, 6, 15, 18, tzinfo=UTC),
        ),
    )
}
DEFAULT_WINDOW = "2026-02"


def read_candles(lines: Iterable[str]) -> list[Candle]:
    """Candles from a ``timestamp,open,high,low,close,volume`` CSV (header included)."""
    return [Candle(int(r["timestamp"]), Decimal(r["low"]), Decimal(r["close"])) for r in csv.DictReader(lines)]


def in_window(candles: Sequence[Candle], start: datetime, end: datetime) -> list[Candle]:
    lo, hi = int(start.timestamp()), int(end.timestamp())
    return [c for c in candles if lo <= c.timestamp < hi]


def resample(candles: Sequence[Candle], bucket_s: int = BUCKET_S) -> list[tuple[int, Decimal]]:
    """(timestamp, price) per ``bucket_s`` bucket (aligned to the first candle): the first
    candle's close, then each bucket's last close; the bucket with the lowest low (first one on
    a tie) gives that low, at that candle's time."""
    if not candles:
        raise ValueError("no candles in the window")
    bottom = min(candles, key=lambda c: (c.low, c.timestamp))
    t0 = candles[0].timestamp
    buckets: dict[int, list[Candle]] = {}
    for c in candles[1:]:
        buckets.setdefault((c.timestamp - t0 - 1) // bucket_s, []).append(c)
    out = [(t0, candles[0].close)]
    for key in sorted(buckets):
        group = buckets[key]
        if bottom in group:
            out.append((bottom.timestamp, bottom.low))
        else:
            out.append((group[-1].timestamp, group[-1].close))
    return out


def rescale(prices: Sequence[tuple[int, Decimal]], start_usd: Decimal = START_USD) -> list[PathPoint]:
    """Multiply every price by ``start_usd / first price`` (relative moves kept), to cents."""
    if not prices or prices[0][1] <= 0:
        raise ValueError("the first price must be positive")
    factor = start_usd / prices[0][1]
    return [
        PathPoint(i, ts, price, (price * factor).quantize(CENT, rounding=ROUND_HALF_EVEN))
        for i, (ts, price) in enumerate(prices)
    ]


def build_path(
    candles: Sequence[Candle], window: Window, *, bucket_s: int = BUCKET_S, start_usd: Decimal = START_USD
) -> list[PathPoint]:
    return rescale(resample(in_window(candles, window.start, window.end), bucket_s), start_usd)


HEADER = ("step", "source_time_utc", "source_timestamp", "source_price", "price_usd")


def write_path(path: Path, points: Sequence[PathPoint]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for p in points:
            writer.writerow((p.step, utc_text(p.source_timestamp), p.source_timestamp, p.source_price, p.price_usd))


def parse_path(lines: Iterable[str]) -> list[PathPoint]:
    points = [
        PathPoint(int(r["step"]), int(r["source_timestamp"]), Decimal(r["source_price"]), Decimal(r["price_usd"]))
        for r in csv.DictReader(lines)
    ]
    if len(points) < 2 or [p.step for p in points] != list(range(len(points))):
        raise ValueError("a demo path CSV needs steps 0, 1, 2, … in order")
    if any(b.source_timestamp <= a.source_timestamp for a, b in zip(points, points[1:], strict=False)):
        raise ValueError("a demo path CSV needs increasing timestamps")
    if any(p.price_usd <= 0 for p in points):
        raise ValueError("a demo path CSV needs positive prices")
    return points


def load_path(name: str = DEFAULT_WINDOW) -> tuple[Window, list[PathPoint]]:
    """The shipped path of a named window (``KeyError`` for an unknown name)."""
    window = WINDOWS[name]
    with open(DATA_DIR / window.csv_name, newline="") as handle:
        return window, parse_path(handle)


def utc_text(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


# ---- the clock ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pace:
    idle_market_s_per_s: float = 5 * 3600.0  # bot idle: 5 h of market per wall second
    busy_market_s_per_s: float = 3600.0 / 10  # batch in flight: ≈1 h of market per batch

    def scaled(self, speed: float) -> Pace:
        """``--speed``: only the idle fast-forward changes; a batch always sees round-trip scale."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        return Pace(self.idle_market_s_per_s * speed, self.busy_market_s_per_s)


class Timelapse:
    """Market time over a path, advanced by wall time at the idle or the busy rate."""

    def __init__(self, points: Sequence[PathPoint], pace: Pace) -> None:
        self.points = list(points)
        self.pace = pace
        self._times = [p.source_timestamp for p in self.points]
        self.market_ts = float(self._times[0])
        # The window's bottom is never stepped over: a coarse idle step landing past it stops on it.
        self._bottom = min(self.points, key=lambda p: (p.price_usd, p.step)).source_timestamp

    @property
    def end_ts(self) -> int:
        return self._times[-1]

    @property
    def done(self) -> bool:
        return self.market_ts >= self.end_ts

    def advance(self, wall_s: float, *, busy: bool) -> PathPoint:
        rate = self.pace.busy_market_s_per_s if busy else self.pace.idle_market_s_per_s
        target = min(float(self.end_ts), self.market_ts + wall_s * rate)
        if self.market_ts < self._bottom < target:
            target = float(self._bottom)
        self.market_ts = target
        return self.current()

    @property
    def at_bottom(self) -> bool:
        """On the window's lowest point (the caller should show it before moving on)."""
        return self.market_ts == self._bottom

    def current(self) -> PathPoint:
        return self.points[max(0, bisect_right(self._times, self.market_ts) - 1)]

    def idle_wall_s(self) -> float:
        """Wall seconds the whole path takes with the bot idle throughout (a lower bound)."""
        return (self.end_ts - self._times[0]) / self.pace.idle_market_s_per_s


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot.demo.path", description="Rebuild the demo's price paths.")
    parser.add_argument("source_dir", type=Path, help="directory holding the source candle files")
    args = parser.parse_args(argv)
    for window in WINDOWS.values():
        with open(args.source_dir / window.source_file, newline="") as handle:
            points = build_path(read_candles(handle), window)
        write_path(DATA_DIR / window.csv_name, points)
        low = min(points, key=lambda p: p.price_usd)
        print(
            f"{window.csv_name}: {len(points)} points, ${points[0].price_usd} → low ${low.price_usd} "
            f"({utc_text(low.source_timestamp)}) → ${points[-1].price_usd}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
