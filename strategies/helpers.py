"""Pure helpers a policy may use to read a ``Snapshot``. Decimal only, no I/O."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Position, Reserve, Snapshot

ZERO = Decimal(0)
BPS = Decimal(10_000)


def main_collateral(position: Position) -> Reserve | None:
    """The collateral reserve with the largest value (ties: the first listed)."""
    best: Reserve | None = None
    best_value = -1
    for r in position.collaterals:
        value = r.collateral * r.price // r.unit
        if value > best_value:
            best, best_value = r, value
    return best


def main_debt(position: Position) -> Reserve | None:
    best: Reserve | None = None
    best_value = -1
    for r in position.debts:
        value = r.debt * r.price // r.unit
        if value > best_value:
            best, best_value = r, value
    return best


def price_usd(position: Position, symbol: str) -> Decimal:
    """The oracle price of ``symbol`` in USD (base currency)."""
    return Decimal(position.reserve(symbol).price) / Decimal(position.base_unit)


def collateral_price(snapshot: Snapshot) -> Decimal | None:
    """The oracle price of the main collateral, or None without collateral."""
    r = main_collateral(snapshot.position)
    return None if r is None else price_usd(snapshot.position, r.symbol)


def reference_high(snapshot: Snapshot, *, window_s: int, current: Decimal | None = None) -> Decimal | None:
    """The highest price seen in the last ``window_s`` seconds of ``price_history`` (and now)."""
    since = snapshot.timestamp - window_s
    prices = [p for t, p in snapshot.price_history if since <= t <= snapshot.timestamp]
    if current is not None:
        prices.append(current)
    return max(prices) if prices else None


def drawdown(price: Decimal, high: Decimal | None) -> Decimal:
    """1 − price/high, clamped to [0, 1)."""
    if not high or price >= high:
        return ZERO
    return Decimal(1) - price / high


def sell_value_for_target(position: Position, symbol: str, target_hf: Decimal) -> Decimal:
    """USD of ``symbol`` to sell (at its oracle price, fees ignored) and repay so HF reaches
    ``target_hf``: from HF' = (ΣcL − v·L) / (D − v), v = (T·D − ΣcL) / (T − L). 0 when there."""
    r = position.reserve(symbol)
    unit_usd = Decimal(position.base_unit)
    weighted = (
        sum(
            (
                Decimal(c.collateral * c.price // c.unit) * c.liquidation_threshold_bps / BPS
                for c in position.collaterals
            ),
            ZERO,
        )
        / unit_usd
    )
    debt = sum((Decimal(d.debt * d.price // d.unit) for d in position.debts), ZERO) / unit_usd
    if debt == 0:
        return ZERO
    lt = Decimal(r.liquidation_threshold_bps) / BPS
    if target_hf <= lt:
        return ZERO
    value = (target_hf * debt - weighted) / (target_hf - lt)
    held = Decimal(r.collateral * r.price // r.unit) / unit_usd
    return max(ZERO, min(value, held, debt))


def sell_qty_for_target(position: Position, symbol: str, target_hf: Decimal) -> Decimal:
    """Whole coins of ``symbol`` to sell so HF reaches ``target_hf`` (see ``sell_value_for_target``)."""
    price = price_usd(position, symbol)
    if price == 0:
        return ZERO
    return sell_value_for_target(position, symbol, target_hf) / price


def book_depth_qty(snapshot: Snapshot, *, band_bps: Decimal) -> Decimal | None:
    """Bid quantity within ``band_bps`` of the best bid, or None without a book."""
    book = snapshot.book
    if book is None or not book.bids:
        return None
    limit = book.bids[0].price * (BPS - band_bps) / BPS
    return sum((lv.qty for lv in book.bids if lv.price >= limit), ZERO)
