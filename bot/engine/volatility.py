"""Realised volatility from a snapshot's price history, and the in-transit price shock δ.

The HF floor must hold while withdrawn collateral is in transit, through a price fall of δ:
δ = z · σ · √T, with σ the per-√second volatility of log returns and T the round trip of one
batch, floored at the configured ``price_shock_bps``. Decimal throughout (deterministic).

``history_shock`` sizes δ from history instead (``bot.domain.shock_table``): the quantile
worst fall over the round trip in the regime of the recent candles' σ, floored the same way.

``price_shock`` and ``history_shock`` also say where δ came from (``Shock.source``): a plan
never falls back to the floor silently. ``read_price_history`` is the live side: the exchange's recent candles
for the snapshot, or the reason there are none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, getcontext
from functools import lru_cache

from bot.domain.shock_table import ShockTable
from bot.errors import DeleverError
from bot.ports import Venue

D = Decimal
SECONDS_PER_DAY = 86_400
FLOOR = "floor: limits.price_shock_bps"
# Fewer candles than this do not make a σ worth trusting: the plan uses the floor, and says so.
MIN_CANDLES = 10
_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


@dataclass(frozen=True, slots=True)
class Shock:
    bps: int
    source: str  # "volatility: …", "floor: … (why)", "cap: …"


@dataclass(frozen=True, slots=True)
class PriceHistory:
    points: tuple[tuple[int, Decimal], ...]
    source: str  # what the points are ("1m candles (ccxt fetch_ohlcv)"), or why there are none


# A plan asks for σ of the same history several times (shock, sizing, the policy): the log
# returns are the costly part, so the last few answers are kept (the history is an immutable tuple).
@lru_cache(maxsize=16)
def sigma_per_sqrt_second(history: tuple[tuple[int, Decimal], ...]) -> Decimal | None:
    """σ of log returns per √second: sqrt(Σ r² / Σ Δt) over consecutive points (irregular
    spacing allowed; points with Δt ≤ 0 or a non-positive price are skipped). None when
    fewer than two usable points."""
    total_sq = D(0)
    total_dt = 0
    prev: tuple[int, Decimal] | None = None
    for t, p in history:
        if p <= 0:
            continue
        if prev is not None and t > prev[0]:
            r = _log_ratio(p, prev[1])
            total_sq += r * r
            total_dt += t - prev[0]
        if prev is None or t > prev[0]:
            prev = (t, p)
    if total_dt == 0:
        return None
    return (total_sq / D(total_dt)).sqrt()


def _log_ratio(p: Decimal, prev: Decimal) -> Decimal:
    ctx = getcontext()
    return _cached_log_ratio(p, prev, ctx.prec, ctx.rounding)


# The next plan's history is this one's shifted by a point or two: its log returns were
# mostly computed already (Decimal ln is the costly part of a many-batch backtest's plan).
@lru_cache(maxsize=8_192)
def _cached_log_ratio(p: Decimal, prev: Decimal, prec: int, rounding: str) -> Decimal:
    return (p / prev).ln()


def daily_volatility(history: tuple[tuple[int, Decimal], ...]) -> Decimal | None:
    sigma = sigma_per_sqrt_second(history)
    return None if sigma is None else sigma * D(SECONDS_PER_DAY).sqrt()


def shock_bps(
    history: tuple[tuple[int, Decimal], ...],
    *,
    horizon_s: int,
    z: Decimal,
    floor_bps: int,
    max_bps: int = 5_000,
) -> int:
    """δ in basis points (rounded up): max(floor, z·σ·√horizon), at most ``max_bps``."""
    sigma = sigma_per_sqrt_second(history)
    shock = D(floor_bps)
    if sigma is not None and horizon_s > 0:
        shock = max(shock, z * sigma * D(horizon_s).sqrt() * 10_000)
    return min(int(shock.to_integral_value(rounding=ROUND_CEILING)), max_bps)


def price_shock(
    history: tuple[tuple[int, Decimal], ...],
    *,
    source: str,
    now: int,
    window_s: int,
    horizon_s: int,
    z: Decimal,
    floor_bps: int,
    max_bps: int = 5_000,
) -> Shock:
    """``shock_bps`` over the points of ``history`` within ``window_s`` of ``now``, with the
    words saying which bound set it and from what (``source``: what ``history`` holds, or why
    it is empty)."""
    recent = tuple(point for point in history if point[0] >= now - window_s)
    bps = shock_bps(recent, horizon_s=horizon_s, z=z, floor_bps=floor_bps, max_bps=max_bps)
    sigma = sigma_per_sqrt_second(recent)
    if sigma is None or horizon_s <= 0:
        if not history:
            return Shock(bps, f"{FLOOR} ({source or 'no price history'})")
        return Shock(bps, f"{FLOOR} (no σ from {len(recent)} of {len(history)} prices within {window_s} s)")
    what = f"σ from {len(recent)} × {source}" if source else f"σ from {len(recent)} prices"
    volatility = f"volatility: {what}, z={z}, round trip {horizon_s} s"
    sized = z * sigma * D(horizon_s).sqrt() * 10_000
    if bps == max_bps and sized > max_bps:
        return Shock(bps, f"cap: {max_bps} bps ({volatility} gives {sized:.0f} bps)")
    if sized <= floor_bps:
        return Shock(bps, f"{FLOOR} ({volatility} gives {sized:.0f} bps)")
    return Shock(bps, volatility)


def history_shock(
    table: ShockTable,
    history: tuple[tuple[int, Decimal], ...],
    *,
    source: str,
    now: int,
    horizon_s: int,
    floor_bps: int,
    max_bps: int = 5_000,
) -> Shock:
    """The ``table``'s quantile fall over ``horizon_s`` in the regime of the σ of the points
    of ``history`` within the table's regime window of ``now``; at least ``floor_bps``, at most
    ``max_bps``. Without enough points for a σ: the floor, and why (``source``)."""
    recent = tuple(point for point in history if point[0] >= now - table.regime_window_s)
    sigma = sigma_per_sqrt_second(recent) if len(recent) >= MIN_CANDLES else None
    if sigma is None or horizon_s <= 0:
        if not history:
            return Shock(floor_bps, f"{FLOOR} ({source or 'no price history'})")
        window = table.regime_window_s
        return Shock(floor_bps, f"{FLOOR} (no regime σ from {len(recent)} of {len(history)} prices within {window} s)")
    daily = sigma * D(SECONDS_PER_DAY).sqrt()
    regime = table.regime(daily)
    sized = table.shock_bps(horizon_s, daily)
    what = f"{len(recent)} × {source}" if source else f"{len(recent)} prices"
    words = (
        f"history: {_percent(table.quantile)} % worst fall over a {horizon_s} s round trip at σ {daily * 100:.1f} %/day "
        f"(regime {table.regime_text(regime)}; σ from {what}; {table.source})"
    )
    if sized > max_bps:
        return Shock(max_bps, f"cap: {max_bps} bps ({words} gives {sized} bps)")
    if sized <= floor_bps:
        return Shock(floor_bps, f"{FLOOR} ({words} gives {sized} bps)")
    return Shock(sized, words)


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}"


def read_price_history(venue: Venue, symbol: str, *, timeframe: str, limit: int) -> PriceHistory:
    """The last ``limit`` candles of ``symbol`` through the venue, or none and the reason
    (the exchange's failure, too few candles, ``limit`` 0). Never raises for the venue: the
    planner then uses the floor and says why."""
    if limit <= 0:
        return PriceHistory((), "candles off (exchange.candles_limit = 0)")
    try:
        points = venue.recent_prices(symbol, timeframe=timeframe, limit=limit)
    except DeleverError as exc:  # one line: request URLs without their query strings
        reason = _QUERY.sub(r"\1", str(exc)).strip()
        return PriceHistory((), f"candles unavailable: {reason}")
    if len(points) < min(MIN_CANDLES, limit):
        return PriceHistory((), f"candles unavailable: {len(points)} × {timeframe} candles, too few for σ")
    return PriceHistory(points, f"{timeframe} candles (ccxt fetch_ohlcv)")
