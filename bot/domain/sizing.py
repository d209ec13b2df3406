"""Sizing on exact integers: liquidation prices, the largest safe withdrawal, the repay that
reaches a target HF, and what one withdraw → sell → repay batch does to a position.

Searches run over the contract-exact health factor, so "the maximum" means: this many base
units keep HF at or above the floor, and one more would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from bot.domain.position import Position, Reserve, debt_base, health_factor_wad
from bot.domain.wadray import MAX_UINT256, PERCENTAGE_FACTOR


def liquidation_price_base(position: Position, symbol: str) -> int | None:
    """Oracle price (base units) of ``symbol`` at which HF reaches 1, other prices held.

    None when the asset does not back the position (no debt, not collateral); 0 when the
    other collateral alone keeps HF ≥ 1. Rounded up: the first price at or below which the
    position is liquidatable, computed on the float-free model sum(c·LT) = debt.
    """
    target = position.reserve(symbol)
    debts = sum(_debt_value(position, r) for r in position.debts)
    if debts == 0 or not target.counts_as_collateral:
        return None
    others = sum(
        (r.collateral * r.price // r.unit) * r.liquidation_threshold_bps
        for r in position.collaterals
        if r.symbol != symbol
    )
    shortfall = debts * PERCENTAGE_FACTOR - others
    if shortfall <= 0:
        return 0
    denominator = target.collateral * target.liquidation_threshold_bps
    return -((-shortfall * target.unit) // denominator)


def _debt_value(position: Position, r: Reserve) -> int:
    return debt_base(r, position.rounding)


def shocked(position: Position, *, shock_bps: int, symbols: frozenset[str] | set[str]) -> Position:
    """Lower the oracle price of ``symbols`` by ``shock_bps`` (floored: the safe side)."""
    if not 0 <= shock_bps < PERCENTAGE_FACTOR:
        raise ValueError(f"shock_bps must be in [0, 10000), got {shock_bps}")
    return position.with_prices(
        {s: position.reserve(s).price * (PERCENTAGE_FACTOR - shock_bps) // PERCENTAGE_FACTOR for s in symbols}
    )


def after_withdraw(position: Position, symbol: str, amount: int) -> Position:
    r = position.reserve(symbol)
    if not 0 <= amount <= r.collateral:
        raise ValueError(f"withdraw {amount} outside [0, {r.collateral}] for {symbol}")
    return position.with_reserve(symbol, collateral=r.collateral - amount)


def after_repay(position: Position, symbol: str, amount: int) -> Position:
    r = position.reserve(symbol)
    if amount < 0:
        raise ValueError("repay amount must be >= 0")
    return position.with_reserve(symbol, debt=r.debt - min(amount, r.debt))


def max_withdraw(position: Position, symbol: str, *, min_hf_wad: int) -> int:
    """Largest amount of ``symbol`` (base units) whose withdrawal leaves HF ≥ ``min_hf_wad``.

    Pass a shocked position to hold the floor through a price fall while funds are in transit.
    """
    r = position.reserve(symbol)
    if r.collateral == 0:
        return 0
    if not r.counts_as_collateral or not position.debts:
        return r.collateral  # the HF does not depend on it
    if health_factor_wad(position) < min_hf_wad:
        return 0
    lo, hi = 0, r.collateral  # invariant: lo is safe
    if health_factor_wad(after_withdraw(position, symbol, hi)) >= min_hf_wad:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if health_factor_wad(after_withdraw(position, symbol, mid)) >= min_hf_wad:
            lo = mid
        else:
            hi = mid
    return lo


def repay_for_target(position: Position, symbol: str, *, target_hf_wad: int) -> int | None:
    """Smallest repay of ``symbol`` debt (base units) that brings HF to ≥ ``target_hf_wad``.

    0 when HF is already there; None when even repaying all of this reserve's debt falls short.
    """
    r = position.reserve(symbol)
    if health_factor_wad(position) >= target_hf_wad:
        return 0
    if r.debt == 0 or health_factor_wad(after_repay(position, symbol, r.debt)) < target_hf_wad:
        return None
    lo, hi = 0, r.debt  # invariant: hi reaches the target, lo does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if health_factor_wad(after_repay(position, symbol, mid)) >= target_hf_wad:
            hi = mid
        else:
            lo = mid
    return hi


def proceeds_units(amount: int, *, sell: Reserve, buy: Reserve, net_price: Decimal) -> int:
    """Base units of ``buy`` received for ``amount`` base units of ``sell`` at ``net_price``
    (whole ``buy`` tokens per whole ``sell`` token, fees already taken), truncated."""
    value = Decimal(amount) * net_price * Decimal(buy.unit) / Decimal(sell.unit)
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class BatchEffect:
    after_withdraw: Position
    after_repay: Position
    withdrawn: int
    proceeds: int  # base units of the debt token received from the sale
    repaid: int  # base units of debt repaid (proceeds capped at the debt)
    leftover: int  # proceeds not needed for the debt

    @property
    def hf_after_withdraw_wad(self) -> int:
        return health_factor_wad(self.after_withdraw)

    @property
    def hf_after_repay_wad(self) -> int:
        return health_factor_wad(self.after_repay)


def batch_effect(position: Position, *, collateral: str, amount: int, debt: str, net_price: Decimal) -> BatchEffect:
    """Withdraw ``amount`` of ``collateral``, sell it at ``net_price`` and repay ``debt``."""
    mid = after_withdraw(position, collateral, amount)
    proceeds = proceeds_units(
        amount, sell=position.reserve(collateral), buy=position.reserve(debt), net_price=net_price
    )
    repaid = min(proceeds, position.reserve(debt).debt)
    end = after_repay(mid, debt, repaid)
    return BatchEffect(mid, end, amount, proceeds, repaid, proceeds - repaid)


def hf_is_infinite(value_wad: int) -> bool:
    return value_wad == MAX_UINT256


def truncate(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
