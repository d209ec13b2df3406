"""The synthetic order book: levels generated around a reference price, depleted by takers,
refilling toward the profile with a half-life.

Level k (1-based) on each side sits at a distance ``x_k = spread/2 + (k-1)·step`` from the
mid. Its size is the profile's cumulative quote depth ``D(x_k) − D(x_{k−1})`` with
``D(x) = depth_1% · (x / 1%)^α`` (α = 1 linear, ½ square root), converted to base units at
the level's price and rounded down to the lot step. Depletion is kept per level as the
fraction eaten, so it follows the level when the reference price moves, and decays by
``2^(−Δt / half_life)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bot.devnet.exchange.config import DepthProfile, MarketClock, MarketConfig

ONE_PCT = Decimal("0.01")
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class BookLevel:
    index: int  # level number on its side, 1 = touch
    price: Decimal
    qty: Decimal  # available now


def quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


class SyntheticBook:
    """One market's book. Not thread-safe by itself: the exchange state holds the lock."""

    def __init__(self, market: MarketConfig, profile: DepthProfile, clock: MarketClock) -> None:
        self.market = market
        self.profile = profile
        self.clock = clock
        # side -> level index -> (fraction eaten at time t, t)
        self._eaten: dict[str, dict[int, tuple[float, float]]] = {"bids": {}, "asks": {}}
        self._cache_key: tuple | None = None
        self._cache: dict[str, list[tuple[int, Decimal, Decimal]]] = {}

    def set_profile(self, profile: DepthProfile) -> None:
        self.profile = profile
        self._cache_key = None

    def reset_depletion(self) -> None:
        self._eaten = {"bids": {}, "asks": {}}

    # -- profile -----------------------------------------------------------------------
    def _cumulative_usd(self, distance: Decimal) -> Decimal:
        if distance <= 0:
            return Decimal(0)
        ratio = distance / ONE_PCT
        if self.profile.shape == "sqrt":
            ratio = ratio.sqrt()
        return self.profile.depth_usd_1pct * ratio

    def _full_levels(self, side: str, mid: Decimal) -> list[tuple[int, Decimal, Decimal]]:
        """(index, price, full qty) for every level of ``side`` at ``mid``, merged per tick."""
        key = (mid, self.profile)
        if self._cache_key != key:
            self._cache = {"bids": self._generate("bids", mid), "asks": self._generate("asks", mid)}
            self._cache_key = key
        return self._cache[side]

    def _generate(self, side: str, mid: Decimal) -> list[tuple[int, Decimal, Decimal]]:
        p, m = self.profile, self.market
        half_spread = p.spread_bps / 2 / BPS
        step = p.level_bps / BPS
        levels: list[tuple[int, Decimal, Decimal]] = []
        previous_cum = Decimal(0)
        for k in range(1, p.levels + 1):
            distance = half_spread + (k - 1) * step
            cumulative = self._cumulative_usd(distance if distance > 0 else step / 2)
            usd = cumulative - previous_cum
            previous_cum = cumulative
            if side == "bids":
                price = quantize(mid * (1 - distance), m.tick_size, ROUND_FLOOR)
            else:
                price = quantize(mid * (1 + distance), m.tick_size, ROUND_CEILING)
            if price <= 0:
                break
            qty = quantize(usd / price, m.step_size, ROUND_FLOOR)
            if levels and levels[-1][1] == price:  # coarse tick: merge into the same price
                index, _, prev_qty = levels[-1]
                levels[-1] = (index, price, prev_qty + qty)
                continue
            levels.append((k, price, qty))
        return levels

    # -- depletion ---------------------------------------------------------------------
    def _eaten_now(self, side: str, index: int, now: float) -> float:
        entry = self._eaten[side].get(index)
        if entry is None:
            return 0.0
        fraction, since = entry
        half_life = self.profile.half_life_s
        if half_life is None:
            return fraction
        if half_life <= 0:
            return 0.0
        return fraction * 0.5 ** (max(0.0, now - since) / half_life)

    def levels(self, side: str, mid: Decimal, limit: int | None = None) -> list[BookLevel]:
        """Levels best first; with ``limit``, only the first ``limit`` non-empty ones."""
        now = self.clock.now()
        eaten_side = self._eaten[side]
        out = []
        for index, price, full in self._full_levels(side, mid):
            eaten = self._eaten_now(side, index, now) if index in eaten_side else 0.0
            qty = (
                full
                if eaten <= 0
                else quantize(full * Decimal(str(1 - min(eaten, 1.0))), self.market.step_size, ROUND_FLOOR)
            )
            if limit is not None:
                if qty <= 0:
                    continue
                if len(out) >= limit:
                    break
            out.append(BookLevel(index, price, qty))
        return out

    def consume(self, side: str, mid: Decimal, index: int, qty: Decimal) -> None:
        """Record that ``qty`` was taken from level ``index`` of ``side``."""
        full = next((q for i, _, q in self._full_levels(side, mid) if i == index), Decimal(0))
        if full <= 0:
            return
        now = self.clock.now()
        eaten = self._eaten_now(side, index, now) + float(qty / full)
        self._eaten[side][index] = (min(eaten, 1.0), now)
