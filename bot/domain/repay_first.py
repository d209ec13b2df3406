"""Repay-first sizing: repay with stablecoins at hand, then withdraw only what keeps HF at or
above where the batch started — compared price for price, at the current prices and at the
shocked ones.

HF with and without the batch are both linear in the collateral price (the debt does not move
with it), so their difference is linear too: at least zero at the current price and at the
shocked price means at least zero at every price in between. With a single volatile
collateral the comparison does not depend on the price at all (the collateral-to-debt ratio is
kept), so a repay-first batch never leaves HF below where it would have been without it,
whatever the market does while the coins travel.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.position import Position, health_factor_wad
from bot.domain.sizing import after_repay, after_withdraw, max_withdraw, shocked

PERCENT_BPS = 10_000

# (position, collateral symbol, min HF wad) -> the largest safe withdrawal, base units
WithdrawSearch = Callable[..., int]


def _price_cases(position: Position, *, shock_bps: int, symbols: frozenset[str]) -> tuple[Position, ...]:
    if shock_bps <= 0 or not symbols:
        return (position,)
    return (position, shocked(position, shock_bps=shock_bps, symbols=symbols))


def repay_first_withdraw(
    position: Position,
    *,
    collateral: str,
    debt: str,
    repay_units: int,
    shock_bps: int,
    symbols: frozenset[str],
    margin_bps: int = 0,
    search: WithdrawSearch = max_withdraw,
) -> int:
    """The largest withdrawal of ``collateral`` (base units) after repaying ``repay_units`` of
    ``debt`` that keeps HF at least the pre-batch HF (raised by ``margin_bps``, for the interest
    that accrues before the withdrawal lands), at the current and at the shocked prices.

    ``search(position, symbol, min_hf_wad=…)`` finds the largest safe withdrawal (exact HF;
    callers may pass a faster search with the same answer)."""
    if repay_units <= 0:
        return 0
    bound = position.reserve(collateral).collateral
    for priced in _price_cases(position, shock_bps=shock_bps, symbols=symbols):
        before = health_factor_wad(priced)
        need = before + before * margin_bps // PERCENT_BPS
        bound = min(bound, search(after_repay(priced, debt, repay_units), collateral, min_hf_wad=need))
    return bound


def keeps_start_hf(start: Position, after: Position, *, shock_bps: int, symbols: frozenset[str]) -> bool:
    """True when ``after`` (the position once the withdrawal lands) has HF at least that of
    ``start`` (the batch's start position) at ``after``'s prices and at those prices shocked."""
    held = {r.symbol for r in start.reserves}
    start_now = start.with_prices({r.symbol: r.price for r in after.reserves if r.symbol in held})
    for a, s in zip(
        _price_cases(after, shock_bps=shock_bps, symbols=symbols),
        _price_cases(start_now, shock_bps=shock_bps, symbols=symbols),
        strict=True,
    ):
        if health_factor_wad(a) < health_factor_wad(s):
            return False
    return True


def withdrawal_keeps_start_hf(
    start: Position, now: Position, *, collateral: str, amount: int, shock_bps: int, symbols: frozenset[str]
) -> bool:
    """``keeps_start_hf`` for withdrawing ``amount`` of ``collateral`` from ``now``."""
    return keeps_start_hf(start, after_withdraw(now, collateral, amount), shock_bps=shock_bps, symbols=symbols)
