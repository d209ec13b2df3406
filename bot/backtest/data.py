"""Candles: loading and validating CSV files, the local cache, and the shipped slices.

A candle file has the header ``timestamp,open,high,low,close,volume``; ``timestamp`` is the
candle's open time in UNIX seconds (UTC). The backtest reads candles into numpy arrays
(floats are allowed inside the vectorised simulation; the money path converts at events).

Where candles come from for ``--pair P --since D --until D``: the download cache
(``$DELEVER_DATA_DIR``, default ``.delever/data`` under the current directory, one file per
exchange/pair/timeframe written by ``delever download-data``) and the slices shipped in
``bot/backtest/data/``. The finest timeframe that covers the whole range wins.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.errors import UserInputError

HEADER = "timestamp,open,high,low,close,volume"
SHIPPED_DIR = Path(__file__).parent / "data"
TIMEFRAME_SECONDS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
_SHIPPED_NAME = re.compile(r"^(?P<base>[a-z]+)_usd_(?P<tf>\d+[mhd])_")


@dataclass(frozen=True)
class Candles:
    """Aligned OHLCV arrays (timestamps int64 seconds, prices float64), oldest first."""

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return int(self.timestamp.shape[0])

    @property
    def interval_s(self) -> int:
        if len(self) < 2:
            return 60
        return int(np.min(np.diff(self.timestamp)))

    def slice(self, start: int, stop: int) -> Candles:
        return Candles(
            self.timestamp[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
            self.source,
        )

    def between(self, since_s: int, until_s: int) -> Candles:
        """Candles whose open time is in [since_s, until_s)."""
        lo = int(np.searchsorted(self.timestamp, since_s, side="left"))
        hi = int(np.searchsorted(self.timestamp, until_s, side="left"))
        return self.slice(lo, hi)


def parse_date(text: str) -> int:
    """YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC) → UNIX seconds; bad input is a UserInputError."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    raise UserInputError(f"bad date {text!r}: use YYYY-MM-DD (UTC)")


def iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_csv(path: str | Path) -> Candles:
    """Read and validate a candle CSV. A trailing partial line (an interrupted write) is ignored."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise UserInputError(f"cannot read {p}: {exc.strerror or exc}") from None
    lines = text.splitlines()
    if not lines or lines[0].strip().lower() != HEADER:
        raise UserInputError(f"{p}: the first line must be the header {HEADER!r}")
    body = lines[1:]
    if body and not text.endswith("\n"):
        body = body[:-1]  # an append cut short
    rows = [ln for ln in body if ln.strip()]
    if not rows:
        raise UserInputError(f"{p}: no candles")
    try:
        table = np.array([[float(x) for x in ln.split(",")] for ln in rows], dtype=np.float64)
    except ValueError:
        raise UserInputError(f"{p}: a row is not six numbers") from None
    if table.ndim != 2 or table.shape[1] != 6:
        raise UserInputError(f"{p}: every row needs six columns")
    stamps = table[:, 0]
    if not np.all(np.isfinite(stamps)) or np.any(stamps < 0) or np.any(stamps >= MAX_TIMESTAMP):
        raise UserInputError(f"{p.name}: timestamps must be UNIX seconds between 1970 and 2100")
    if np.any(stamps != np.floor(stamps)):
        raise UserInputError(f"{p.name}: timestamps must be whole seconds")
    candles = Candles(
        table[:, 0].astype(np.int64),
        table[:, 1].copy(),
        table[:, 2].copy(),
        table[:, 3].copy(),
        table[:, 4].copy(),
        table[:, 5].copy(),
        source=p.name,
    )
    validate(candles, name=p.name)
    return candles


# What a candle may hold: prices a simulation can carry in 1e-8 base units and in floats, volumes
# that stay finite when a day of them is summed, open times between 1970 and 2100 (UTC).
MIN_PRICE, MAX_PRICE = 1e-6, 1e9
MAX_VOLUME = 1e18
MAX_TIMESTAMP = 4_102_444_800  # 2100-01-01


def validate(c: Candles, *, name: str = "candles") -> None:
    """Raise UserInputError on anything a simulation must not run on."""
    prices = np.stack([c.open, c.high, c.low, c.close])
    if not np.all(np.isfinite(prices)) or not np.all(np.isfinite(c.volume)):
        raise UserInputError(f"{name}: NaN or infinite values")
    if np.any(prices <= 0):
        raise UserInputError(f"{name}: non-positive prices")
    if np.any(prices < MIN_PRICE) or np.any(prices > MAX_PRICE):
        raise UserInputError(f"{name}: prices outside {MIN_PRICE:g}..{MAX_PRICE:g}")
    if np.any(c.volume < 0):
        raise UserInputError(f"{name}: negative volume")
    if np.any(c.volume > MAX_VOLUME):
        raise UserInputError(f"{name}: volume above {MAX_VOLUME:g}")
    if len(c) > 1 and np.any(np.diff(c.timestamp) <= 0):
        raise UserInputError(f"{name}: timestamps are not strictly increasing")
    bad = (c.low > np.minimum(c.open, c.close)) | (c.high < np.maximum(c.open, c.close))
    if np.any(bad):
        first = int(np.argmax(bad))
        raise UserInputError(f"{name}: OHLC out of order at {iso(int(c.timestamp[first]))}")


def write_rows(path: Path, rows: list[list[float | int]], *, append: bool) -> None:
    """Append whole lines in one write, then fsync: an interruption loses at most a partial line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not append or not path.exists() or path.stat().st_size == 0
    text = (HEADER + "\n" if fresh else "") + "".join(",".join(_num(v) for v in r) + "\n" for r in rows)
    with open(path, "w" if fresh else "a") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _num(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def cache_dir() -> Path:
    return Path(os.environ.get("DELEVER_DATA_DIR") or Path.cwd() / ".delever" / "data")


def cache_path(exchange: str, pair: str, timeframe: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / exchange / f"{pair.replace('/', '_').upper()}-{timeframe}.csv"


@dataclass(frozen=True)
class Source:
    path: Path
    pair: str
    interval_s: int
    first: int
    last: int  # open time of the last candle


def _first_last(path: Path) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as fh:
            fh.readline()
            first_line = fh.readline()
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            tail = [ln for ln in fh.read().splitlines() if ln.strip()]
    except OSError:
        return None
    if not first_line or not tail:
        return None
    try:
        last_full = tail[-1] if path.read_bytes().endswith(b"\n") else tail[-2]
        return int(float(first_line.split(b",")[0])), int(float(last_full.split(b",")[0]))
    except (ValueError, IndexError):
        return None


def sources(pair: str, root: Path | None = None) -> list[Source]:
    """Every cached or shipped file holding ``pair`` (shipped slices are ETH/USDT)."""
    wanted = pair.upper()
    found: list[Source] = []
    base = root or cache_dir()
    if base.is_dir():
        for path in sorted(base.glob(f"*/{wanted.replace('/', '_')}-*.csv")):
            tf = path.stem.rsplit("-", 1)[-1]
            span = _first_last(path)
            if tf in TIMEFRAME_SECONDS and span:
                found.append(Source(path, wanted, TIMEFRAME_SECONDS[tf], *span))
    for path in sorted(SHIPPED_DIR.glob("*.csv")):
        m = _SHIPPED_NAME.match(path.name)
        if not m or f"{m['base'].upper()}/USDT" != wanted:
            continue
        span = _first_last(path)
        if span and m["tf"] in TIMEFRAME_SECONDS:
            found.append(Source(path, wanted, TIMEFRAME_SECONDS[m["tf"]], *span))
    return found


def cut(candles: Candles, since_s: int | None, until_s: int | None, *, name: str) -> Candles:
    """The candles with open time in [since, until) (either bound optional); the range must lie
    within the file and hold at least two candles."""
    if since_s is None and until_s is None:
        return candles
    first, last = int(candles.timestamp[0]), int(candles.timestamp[-1])
    end = last + candles.interval_s  # the last candle closes here
    lo = first if since_s is None else since_s
    hi = end if until_s is None else until_s
    if hi <= lo:
        raise UserInputError("--until must be after --since")
    if lo < first or hi > end:
        raise UserInputError(f"{name} covers {iso(first)}..{iso(end)}; the range {iso(lo)}..{iso(hi)} lies outside it")
    out = candles.between(lo, hi)
    if len(out) < 2:
        raise UserInputError(f"{name} has fewer than two candles in {iso(lo)}..{iso(hi)}")
    return out


def load_range(pair: str, since_s: int, until_s: int, root: Path | None = None) -> Candles:
    """Candles of ``pair`` with open time in [since, until), from the finest covering source."""
    if until_s <= since_s:
        raise UserInputError("--until must be after --since")
    covering = [s for s in sources(pair, root) if s.first <= since_s and s.last + s.interval_s >= until_s]
    if not covering:
        raise UserInputError(
            f"no cached candles of {pair} cover {iso(since_s)}..{iso(until_s)}; fetch them with `delever download-data`"
        )
    best = min(covering, key=lambda s: (s.interval_s, str(s.path)))
    candles = load_csv(best.path).between(since_s, until_s)
    if len(candles) == 0:
        raise UserInputError(f"no candles of {pair} in the range")
    return candles


def shipped(name: str) -> Candles:
    """A shipped slice by file name (tests, benchmarks, the case study)."""
    return load_csv(SHIPPED_DIR / name)


CRASH_WINDOWS = (
    "eth_usd_5m_2020-03-12.csv",
    "eth_usd_1m_2021-05-19.csv",
    "eth_usd_5m_2022-06-13.csv",
    "eth_usd_5m_2022-11-08.csv",
    "eth_usd_1m_2024-08-05.csv",
    "eth_usd_5m_2025-10-10.csv",
    "eth_usd_5m_2026-01-20_2026-02-15.csv",
)


def minute_bars_from_hourly(hourly: Candles) -> Candles:
    """Synthesise 1-minute candles from hourly ones (benchmarks only, not market data).

    Each hour becomes 60 minutes on a straight-line path open → first extreme → second
    extreme → close, visiting the extreme nearer the open first; every hourly high and low is
    hit exactly once and the minute candles join end to end.
    """
    n = len(hourly)
    o, h, lo, c = hourly.open, hourly.high, hourly.low, hourly.close
    down_first = np.abs(o - lo) <= np.abs(h - o)
    first = np.where(down_first, lo, h)
    second = np.where(down_first, h, lo)
    knots = np.stack([o, first, second, c], axis=1)  # (n, 4)
    m = np.arange(61)  # 61 points → 60 minutes, 20 per leg; knots hit exactly
    seg = np.minimum(m // 20, 2)
    frac = (m - 20 * seg) / 20.0
    path = knots[:, seg] + (knots[:, seg + 1] - knots[:, seg]) * frac  # (n, 61)
    path = np.clip(path, lo[:, None], h[:, None])  # no float overshoot past the hour's range
    path[:, -1] = c
    m_open, m_close = path[:, :-1], path[:, 1:]
    m_high = np.maximum(m_open, m_close)
    m_low = np.minimum(m_open, m_close)
    ts = (hourly.timestamp[:, None] + 60 * np.arange(60)[None, :]).reshape(-1)
    vol = np.repeat(hourly.volume / 60.0, 60)
    return Candles(
        ts,
        m_open.reshape(-1),
        m_high.reshape(-1),
        m_low.reshape(-1),
        m_close.reshape(-1),
        vol,
        source=f"{hourly.source} (1m synthesised, {n} hours)",
    )
