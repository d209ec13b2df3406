"""Order books for planning: a synthetic book from a depth model, and a book that batches
deplete and that refills between them. Pure, Decimal only."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, getcontext
from functools import lru_cache

from bot.domain import Level, OrderBook, SellFill, walk_bids

D = Decimal
BPS = D(10_000)


@lru_cache(maxsize=256)  # pure and immutable: backtests ask for the same book bar after bar
def synthetic_book(
    mid: Decimal,
    depth_usd_1pct: Decimal,
    *,
    symbol: str = "ETH/USDT",
    spread_bps: Decimal = D("1"),
    level_bps: Decimal = D("1"),
    band_bps: Decimal = D("500"),
    tick: Decimal = D("0.01"),
    qty_step: Decimal = D("0.00000001"),
) -> OrderBook:
    """A book with linear depth density: ``depth_usd_1pct`` of quote within 1 % of ``mid`` on
    each side, spread evenly (``depth_usd_1pct / 100`` per basis point), out to ``band_bps``.

    Levels sit every ``level_bps`` from the touch (``spread_bps / 2`` away from mid); bid
    prices round down and ask prices up to ``tick``, quantities down to ``qty_step``.
    """
    if mid <= 0 or depth_usd_1pct <= 0:
        raise ValueError("mid and depth must be positive")
    usd_per_level = depth_usd_1pct / D(100) * level_bps
    half = spread_bps / 2
    bids: list[Level] = []
    asks: list[Level] = []
    steps = int((band_bps / level_bps).to_integral_value(rounding=ROUND_FLOOR))
    for i in range(steps):
        off = (half + level_bps * i) / BPS
        bid = _round(mid * (1 - off), tick, ROUND_FLOOR)
        ask = _round(mid * (1 + off), tick, ROUND_CEILING)
        if bid > 0 and (not bids or bid < bids[-1].price):
            bids.append(Level(bid, _round(usd_per_level / bid, qty_step, ROUND_DOWN)))
        if not asks or ask > asks[-1].price:
            asks.append(Level(ask, _round(usd_per_level / ask, qty_step, ROUND_DOWN)))
    return OrderBook(symbol, tuple(bids), tuple(asks))


def _round(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


@dataclass(frozen=True, slots=True)
class BookState:
    """The bids as the plan expects them: the original levels minus what earlier batches ate
    (``eaten`` per level), refilling with a half-life between batches. ``bids`` is the
    resulting book side, computed once per state."""

    levels: tuple[Level, ...]
    eaten: tuple[Decimal, ...]
    bids: tuple[Level, ...]

    @classmethod
    def of(cls, book: OrderBook) -> BookState:
        return cls(book.bids, tuple(D(0) for _ in book.bids), book.bids)

    @classmethod
    def _make(cls, levels: tuple[Level, ...], eaten: tuple[Decimal, ...]) -> BookState:
        bids = tuple(lv if not e else Level(lv.price, lv.qty - e) for lv, e in zip(levels, eaten) if lv.qty - e > 0)
        return cls(levels, eaten, bids)

    def walk(self, qty: Decimal, *, limit_price: Decimal) -> SellFill:
        return walk_bids(self.bids, qty, limit_price=limit_price)

    def after_sell(self, qty: Decimal, *, limit_price: Decimal) -> BookState:
        remaining = qty
        eaten = list(self.eaten)
        for i, lv in enumerate(self.levels):
            if remaining <= 0 or lv.price < limit_price:
                break
            take = min(lv.qty - eaten[i], remaining)
            if take <= 0:
                continue
            eaten[i] += take
            remaining -= take
        return BookState._make(self.levels, tuple(eaten))

    def refilled(self, *, elapsed_s: int, half_life_s: int | None) -> BookState:
        """Eaten quantity decays as 2^(−elapsed/half_life); None: no refill."""
        if half_life_s is None or elapsed_s <= 0 or not any(self.eaten):
            return self
        ctx = getcontext()
        keep = _kept_share(elapsed_s, half_life_s, ctx.prec, ctx.rounding)
        eaten = tuple((e * keep).quantize(D("1e-12"), rounding=ROUND_CEILING) if e else e for e in self.eaten)
        return BookState._make(self.levels, eaten)


# A plan refills its book after every batch by the same round trip and half-life: the Decimal
# power (most of a refill) is a pure function of them and the context's precision and rounding.
@lru_cache(maxsize=64, typed=True)
def _kept_share(elapsed_s: int, half_life_s: int, prec: int, rounding: str) -> Decimal:
    return D(2) ** (-D(elapsed_s) / D(half_life_s))
