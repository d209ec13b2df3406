"""Order-book walking for sells: expected fill, worst price, and the depth above a limit.

A sell under a hard slippage cap is an IOC limit order at ``floor_price(reference, cap)``:
the exchange fills only bids at or above it, so the cap holds by construction. These
functions predict that order's outcome from a book snapshot. Decimal throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Bids best (highest) first, asks best (lowest) first."""

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...] = ()
    timestamp_ms: int | None = None

    def __post_init__(self) -> None:
        for side, ordered in (("bids", _descending), ("asks", _ascending)):
            levels = getattr(self, side)
            if any(lv.price <= 0 or lv.qty < 0 for lv in levels):
                raise ValueError(f"{side} hold a non-positive price or a negative quantity")
            if not ordered([lv.price for lv in levels]):
                raise ValueError(f"{side} are not sorted best first")

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return self.best_bid or self.best_ask
        return (self.best_bid + self.best_ask) / 2


def _descending(prices: list[Decimal]) -> bool:
    return all(a > b for a, b in zip(prices, prices[1:]))


def _ascending(prices: list[Decimal]) -> bool:
    return all(a < b for a, b in zip(prices, prices[1:]))


@dataclass(frozen=True, slots=True)
class SellFill:
    """What selling into the bids would fill: quantity, gross quote notional, prices."""

    qty: Decimal
    notional: Decimal
    worst_price: Decimal | None

    @property
    def avg_price(self) -> Decimal | None:
        return self.notional / self.qty if self.qty else None

    def slippage_bps(self, reference: Decimal) -> Decimal:
        """Average shortfall versus ``reference`` in basis points (0 when nothing fills)."""
        avg = self.avg_price
        if avg is None:
            return Decimal(0)
        return (1 - avg / reference) * BPS


def floor_price(reference: Decimal, max_slippage_bps: int | Decimal, tick: Decimal | None = None) -> Decimal:
    """The lowest acceptable sell price, rounded *up* to the tick (the safe side)."""
    price = reference * (BPS - Decimal(max_slippage_bps)) / BPS
    if tick:
        price = (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return price


def walk_bids(bids: tuple[Level, ...], qty: Decimal, *, limit_price: Decimal | None = None) -> SellFill:
    """Fill up to ``qty`` from the best bid down, never below ``limit_price``."""
    remaining = qty
    notional = Decimal(0)
    worst: Decimal | None = None
    for level in bids:
        if remaining <= 0 or (limit_price is not None and level.price < limit_price):
            break
        take = min(level.qty, remaining)
        if take <= 0:
            continue
        notional += take * level.price
        remaining -= take
        worst = level.price
    return SellFill(qty - remaining, notional, worst)


def depth_above(bids: tuple[Level, ...], limit_price: Decimal) -> Decimal:
    """Total bid quantity at or above ``limit_price``: the most an IOC sell there can fill."""
    return sum((lv.qty for lv in bids if lv.price >= limit_price), Decimal(0))


def round_down_to_step(qty: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step
