"""Execution model for the simulated exchange: a depth profile around the candle price, thinner
in crash regimes, that refills between batches, plus square-root impact for large metaorders,
taker fees and gas (notes C2, C3, C5).

- **Depth profile.** Cumulative bid depth within a distance ``s`` below mid is
  ``D(s) = D1 · f · (s / 1%) ** exponent`` USD, with ``D1`` the calm depth within 1 %
  (default $8M: ETH's best single venue, notes C5) and ``exponent`` 0.5 (books are concave:
  the published BTC/ETH 0.5 %/1 %/5 % bands fit 0.4-0.5). The book is materialised as a
  ``bot.domain.OrderBook`` so the planner sizes batches from it exactly as it does live.
- **Crash regime.** ``f = 1 - (1 - crash_depth_factor) · stress``; stress in [0, 1] is the
  larger of the 24 h drawdown (3 % → 0, 15 % → 1) and the 1 h realised volatility against a calm
  60 % annualised (1× → 0, 3× → 1). Default crash factor 0.4 (notes C5: 0.3-0.5×).
- **Refill.** A sale that walks the book to a worst price leaves the mid there; the gap closes
  with ``refill_half_life_s`` (default 10 min). A batch a few minutes later meets a book still
  shifted down.
- **Square-root impact.** The whole unwind is a metaorder: ``I = Y · σ_daily · sqrt(Q / V_daily)``
  with Q the quantity sold over the last day (decayed with ``impact_half_life_s``) and V the
  last 24 h of candle volume. The book is centred at ``mid · (1 - max(refill gap, I))``: the
  larger of the two displacements, not their sum, so a single sweep is not counted twice.
- Fees: the taker fee on the quote proceeds; gas: units per transaction × gwei × ETH price.

Floats inside, at events only; the book handed to the planner and the fills are Decimal.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import numpy as np

from bot.backtest.data import Candles
from bot.domain.book import Level, OrderBook, SellFill, walk_bids
from bot.settings.simulation import MarketModelConfig

LN2 = math.log(2.0)
PRICE_TICK = Decimal("0.01")


_DEFAULT = MarketModelConfig()  # defaults and bounds live in the settings schema


@dataclass(frozen=True)
class MarketParams:
    """The market model's typed params (see ``bot.settings.simulation.MarketModelConfig``)."""

    depth_usd_1pct: float = _DEFAULT.depth_usd_1pct
    depth_exponent: float = _DEFAULT.depth_exponent
    crash_depth_factor: float = _DEFAULT.crash_depth_factor
    drawdown_calm: float = _DEFAULT.drawdown_calm
    drawdown_crash: float = _DEFAULT.drawdown_crash
    calm_vol_annual: float = _DEFAULT.calm_vol_annual
    vol_crash_multiple: float = _DEFAULT.vol_crash_multiple
    refill_half_life_s: float = _DEFAULT.refill_half_life_s
    impact_coef: float = _DEFAULT.impact_coef
    impact_half_life_s: float = _DEFAULT.impact_half_life_s
    half_spread_bps: float = _DEFAULT.half_spread_bps
    level_step_bps: float = _DEFAULT.level_step_bps
    book_max_bps: float = _DEFAULT.book_max_bps
    taker_fee_bps: int = _DEFAULT.taker_fee_bps
    quote_withdrawal_fee: Decimal = _DEFAULT.quote_withdrawal_fee
    gas_gwei: float = _DEFAULT.gas_gwei
    gas_eth_price_usd: float = _DEFAULT.gas_eth_price_usd
    sell_price: str = _DEFAULT.sell_price

    @classmethod
    def from_config(cls, config: MarketModelConfig) -> MarketParams:
        return cls(**config.model_dump())

    def __post_init__(self) -> None:
        # Built from the validated schema; a direct construction gets the same checks.
        MarketModelConfig.model_validate(dataclasses.asdict(self))


def _level_edges_bps(step: float, end: float) -> np.ndarray:
    """Fine levels near the touch, coarser further out: step to 2 %, 5×step to 10 %, 20×step beyond."""
    near = np.arange(step, min(end, 200.0) + 1e-9, step)
    mid = np.arange(near[-1] + 5 * step, min(end, 1_000.0) + 1e-9, 5 * step)
    far = np.arange((mid[-1] if mid.size else near[-1]) + 20 * step, end + 1e-9, 20 * step)
    return np.concatenate((near, mid, far))


@dataclass(frozen=True)
class _Profile:
    """The parts of every book that depend on the params alone (read-only arrays)."""

    inner_share: np.ndarray  # (inner edge / 1 %) ** exponent: the depth before a level, per D1
    outer_share: np.ndarray  # (outer edge / 1 %) ** exponent: the depth to its end, per D1
    price_factor: np.ndarray  # a level's price per unit of mid (the spread and its distance)


# Keyed on the four floats it is computed from (typed: 1 and 1.0 stay apart), and its arrays
# made read-only: a cached profile cannot change, so each book equals one built from scratch.
@lru_cache(maxsize=8, typed=True)
def _profile(step_bps: float, end_bps: float, exponent: float, half_spread_bps: float) -> _Profile:
    steps = _level_edges_bps(step_bps, end_bps)  # outer edge of each level
    inner = np.concatenate(([0.0], steps[:-1]))
    arrays = ((inner / 100.0) ** exponent, (steps / 100.0) ** exponent, 1.0 - (inner + half_spread_bps) / 10_000.0)
    for a in arrays:
        a.flags.writeable = False
    return _Profile(*arrays)


GAS_UNITS = {
    "withdraw": 250_000,
    "transfer": 65_000,
    "repay": 200_000,
    "approve": 50_000,
    "liquidation": 0,
    "flashloan_repay": 900_000,
}


def gas_usd(kind: str, *, gwei: float, eth_price: float) -> Decimal:
    return _dec(GAS_UNITS[kind] * gwei * 1e-9 * eth_price, 6)


def _dec(value: float, places: int) -> Decimal:
    return Decimal(repr(round(float(value), places)))


class Market:
    """The exchange-side market state over one candle series (one instance per simulation)."""

    def __init__(self, candles: Candles, params: MarketParams) -> None:
        self.c = candles
        self.p = params
        self.interval_s = candles.interval_s
        self._bars_day = max(1, 86_400 // self.interval_s)
        self._bars_hour = max(2, 3_600 // self.interval_s)
        self._gap = 0.0  # refill gap (fraction of mid) after the last sweep
        self._gap_at = 0
        self._sold = 0.0  # decayed quantity sold (the metaorder)
        self._sold_at = 0
        # The mid while a decision is taken inside a bar (where the path crossed the wake
        # price); None: the candle price of ``sell_price``.
        self.override_mid: float | None = None
        self._last_book: tuple[tuple[object, ...], OrderBook] | None = None
        # Per bar, from completed candles only: a many-batch run asks for the same bars again and again.
        self._stress: dict[int, float] = {}
        self._daily: dict[int, tuple[float, float]] = {}  # bar → (daily σ, daily volume)

    # -- regime -----------------------------------------------------------------------------
    def stress(self, i: int) -> float:
        if i not in self._stress:
            self._stress[i] = self._stress_of(i)
        return self._stress[i]

    def _stress_of(self, i: int) -> float:
        i = max(0, i - 1)  # regime from completed bars only: no look-ahead into the current one
        lo = max(0, i - self._bars_day + 1)
        peak = float(np.max(self.c.high[lo : i + 1]))
        drawdown = 1.0 - float(self.c.close[i]) / peak
        dd_stress = (drawdown - self.p.drawdown_calm) / (self.p.drawdown_crash - self.p.drawdown_calm)
        hlo = max(0, i - self._bars_hour)
        closes = self.c.close[hlo : i + 1]
        vol_stress = 0.0
        if closes.shape[0] >= 3:
            rets = np.diff(np.log(closes))
            vol = float(np.std(rets)) * math.sqrt(365 * 86_400 / self.interval_s)
            vol_stress = (vol / self.p.calm_vol_annual - 1.0) / (self.p.vol_crash_multiple - 1.0)
        return min(1.0, max(0.0, dd_stress, vol_stress))

    def depth_factor(self, i: int) -> float:
        return 1.0 - (1.0 - self.p.crash_depth_factor) * self.stress(i)

    def daily_sigma(self, i: int) -> float:
        i = max(0, i - 1)
        lo = max(0, i - self._bars_day)
        closes = self.c.close[lo : i + 1]
        if closes.shape[0] < 3:
            return 0.04
        return float(np.std(np.diff(np.log(closes)))) * math.sqrt(self._bars_day)

    def daily_volume(self, i: int) -> float:
        i = max(0, i - 1)
        lo = max(0, i - self._bars_day + 1)
        return max(1.0, float(np.sum(self.c.volume[lo : i + 1])) * self._bars_day / (i + 1 - lo))

    # -- state ------------------------------------------------------------------------------
    def _decayed(self, t: int) -> tuple[float, float]:
        gap = self._gap * math.exp(-LN2 * max(0, t - self._gap_at) / self.p.refill_half_life_s)
        sold = self._sold * math.exp(-LN2 * max(0, t - self._sold_at) / self.p.impact_half_life_s)
        return gap, sold

    def candle_mid(self, i: int) -> float:
        if self.override_mid is not None:
            return self.override_mid
        c = self.c
        return float({"close": c.close, "low": c.low, "open": c.open}[self.p.sell_price][i])

    def displacement(self, i: int, t: int) -> float:
        gap, sold = self._decayed(t)
        impact = 0.0
        if sold:
            if i not in self._daily:
                self._daily[i] = (self.daily_sigma(i), self.daily_volume(i))
            sigma, volume = self._daily[i]
            impact = self.p.impact_coef * sigma * math.sqrt(sold / volume)
        return min(0.9, max(gap, impact))

    def mid(self, i: int, t: int) -> float:
        return self.candle_mid(i) * (1.0 - self.displacement(i, t))

    def order_book(self, i: int, t: int, symbol: str = "ETH/USDT") -> OrderBook:
        """Bids from the depth profile around the displaced mid; one thin ask at the spread.

        The last book is kept: within one bar the engine asks for it several times (policy,
        plan, sell) while nothing it depends on has moved."""
        key = (i, t, symbol, self._gap, self._gap_at, self._sold, self._sold_at, self.override_mid)
        if self._last_book is not None and self._last_book[0] == key:
            return self._last_book[1]
        book = self._build_book(i, t, symbol)
        self._last_book = (key, book)
        return book

    def _build_book(self, i: int, t: int, symbol: str) -> OrderBook:
        p = self.p
        mid = self.mid(i, t)
        d1 = p.depth_usd_1pct * self.depth_factor(i)
        profile = _profile(p.level_step_bps, p.book_max_bps, p.depth_exponent, p.half_spread_bps)
        cum_prev = d1 * profile.inner_share
        cum = d1 * profile.outer_share
        prices = mid * profile.price_factor
        qtys = (cum - cum_prev) / prices
        bids: list[Level] = []
        last = -1
        cents = np.floor(prices * 100.0).astype(np.int64).tolist()
        lots = np.floor(qtys * 10_000.0).astype(np.int64).tolist()
        for cent, lot in zip(cents, lots):
            if cent <= 0 or cent == last:
                continue
            bids.append(Level(Decimal(cent).scaleb(-2), Decimal(lot).scaleb(-4)))
            last = cent
        ask = Decimal(repr(mid * (1 + p.half_spread_bps / 10_000.0))).quantize(PRICE_TICK) + PRICE_TICK
        return OrderBook(symbol, tuple(bids), (Level(ask, Decimal("1000")),), timestamp_ms=t * 1000)

    def sell(self, i: int, t: int, qty: Decimal, floor_price: Decimal | None) -> tuple[SellFill, Decimal]:
        """IOC sell of ``qty`` at ``floor_price`` (None: no cap) → (fill, fee in quote)."""
        book = self.order_book(i, t)
        fill = walk_bids(book.bids, qty, limit_price=floor_price)
        if fill.qty > 0:
            mid_now = self.candle_mid(i)
            gap, sold = self._decayed(t)
            worst_gap = 1.0 - float(fill.worst_price) / mid_now
            self._gap, self._gap_at = max(gap, worst_gap), t
            self._sold, self._sold_at = sold + float(fill.qty), t
        fee = (fill.notional * self.p.taker_fee_bps / Decimal(10_000)).quantize(Decimal("0.000001"))
        return fill, fee

    def sweep(self, i: int, t: int, qty: Decimal, *, fee_bps: int) -> tuple[SellFill, Decimal]:
        """One uncapped sale (a DEX swap or a panic market order) at this bar."""
        fill, _ = self.sell(i, t, qty, None)
        fee = (fill.notional * fee_bps / Decimal(10_000)).quantize(Decimal("0.000001"))
        return fill, fee
