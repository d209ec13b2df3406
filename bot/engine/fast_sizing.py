"""``max_withdraw`` and ``repay_for_target`` with the same answers as ``bot.domain``'s
searches, without a search where the contracts' formula can be inverted exactly.

HF depends on the withdrawn amount only through the reserve's floored base value
``v = (collateral - amount) · price // unit``, and at fixed prices HF is a step function of
``v`` that is linear before its roundings. Where it is monotone in ``v`` (v3.5 rounding; v3.0
rounding with this reserve the only collateral) the least safe ``v`` is solved in closed form,
checked against the exact formula at ``v`` and ``v − 1``, and turned back into token units.
Elsewhere (v3.0 with several collaterals, whose average-LT rounding is not monotone) the
domain's bisection runs as it is, probe for probe, on that cheap formula.

A repay changes only the total debt ``D``, and HF = ``wadDiv(x, D)`` (x fixed) falls as ``D``
grows under either rounding: the largest ``D`` that keeps the target is solved, checked the same
way, and turned into the least repay.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain import Position
from bot.domain.position import Rounding, debt_base
from bot.domain.sizing import repay_for_target
from bot.domain.wadray import PERCENTAGE_FACTOR, WAD, percent_mul


def max_withdraw_fast(position: Position, symbol: str, *, min_hf_wad: int) -> int:
    r = position.reserve(symbol)
    if r.collateral == 0:
        return 0
    if not r.counts_as_collateral or not position.debts:
        return r.collateral
    debt = sum(debt_base(d, position.rounding) for d in position.debts)
    if debt == 0:
        return r.collateral  # HF is max uint256 whatever is withdrawn
    rounding = position.rounding
    others = [c for c in position.collaterals if c.symbol != symbol]
    other_value = sum(c.collateral * c.price // c.unit for c in others)
    other_weighted = sum((c.collateral * c.price // c.unit) * c.liquidation_threshold_bps for c in others)
    lt = r.liquidation_threshold_bps
    if rounding is Rounding.V3_5 or not others:
        found = _closed_form(r.collateral, r.price, r.unit, lt, other_value, other_weighted, debt, rounding, min_hf_wad)
        if found is not None:
            return found

    def safe(amount: int) -> bool:
        value = (r.collateral - amount) * r.price // r.unit
        return _hf_at(value, lt, other_value, other_weighted, debt, rounding) >= min_hf_wad

    return _bisect(r.collateral, safe)


def _hf_at(value: int, lt: int, other_value: int, other_weighted: int, debt: int, rounding: Rounding) -> int:
    """``account_data``'s HF with the reserve's base value ``value`` and everything else fixed."""
    weighted = other_weighted + value * lt
    if rounding is Rounding.V3_5:
        return (weighted * WAD + debt // 2) // debt // PERCENTAGE_FACTOR
    total = other_value + value
    average_lt = weighted // total if total else 0
    return (percent_mul(total, average_lt) * WAD + debt // 2) // debt


def _closed_form(
    collateral: int,
    price: int,
    unit: int,
    lt: int,
    other_value: int,
    other_weighted: int,
    debt: int,
    rounding: Rounding,
    min_hf_wad: int,
) -> int | None:
    """The largest safe amount, or None when the inversion does not check out (the caller searches)."""

    def hf(value: int) -> int:
        return _hf_at(value, lt, other_value, other_weighted, debt, rounding)

    held = collateral * price // unit
    if hf(held) < min_hf_wad:
        return 0
    # wad_div(x, debt) >= m  <=>  x * WAD + debt // 2 >= m * debt  <=>  x >= ceil((m * debt - debt // 2) / WAD)
    if rounding is Rounding.V3_5:
        # x = weighted (the // 1e4 after wad_div folds into m · 1e4)
        least_weighted = _ceil_div(min_hf_wad * PERCENTAGE_FACTOR * debt - debt // 2, WAD)
        least = _ceil_div(least_weighted - other_weighted, lt)
    else:
        # x = percent_mul(value, lt) = (value · lt + 5000) // 1e4, this reserve the only collateral
        least_percent = _ceil_div(min_hf_wad * debt - debt // 2, WAD)
        least = _ceil_div(least_percent * PERCENTAGE_FACTOR - PERCENTAGE_FACTOR // 2, lt)
    least = max(0, least)
    if least > held or hf(least) < min_hf_wad or (least > 0 and hf(least - 1) >= min_hf_wad):
        return None
    if least == 0:
        return collateral
    # The least balance whose floored value reaches ``least``: ceil(least · unit / price).
    keep = _ceil_div(least * unit, price)
    return max(0, collateral - keep)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _bisect(collateral: int, safe: Callable[[int], bool]) -> int:
    """``bot.domain.max_withdraw``'s bisection, probe for probe (so the same answer even where
    HF is not monotone in the amount), over the cheap formula instead of a Position per probe."""
    if not safe(0):
        return 0
    lo, hi = 0, collateral  # invariant: lo is safe
    if safe(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if safe(mid):
            lo = mid
        else:
            hi = mid
    return lo


def repay_for_target_fast(position: Position, symbol: str, *, target_hf_wad: int) -> int | None:
    """Smallest repay of ``symbol`` debt (base units) that brings HF to ≥ ``target_hf_wad``; 0
    when HF is already there; None when repaying all of this reserve's debt falls short."""
    rounding = position.rounding
    r = position.reserve(symbol)
    collaterals = position.collaterals
    total = sum(c.collateral * c.price // c.unit for c in collaterals)
    weighted = sum((c.collateral * c.price // c.unit) * c.liquidation_threshold_bps for c in collaterals)
    if rounding is Rounding.V3_5:
        # HF = wadDiv(weighted, D) // 1e4 >= t  <=>  wadDiv(weighted, D) >= t · 1e4
        numerator, target = weighted, target_hf_wad * PERCENTAGE_FACTOR
    else:
        numerator, target = percent_mul(total, weighted // total if total else 0), target_hf_wad
    others = sum(debt_base(d, rounding) for d in position.debts if d.symbol != symbol)

    def reaches(debt: int) -> bool:  # the contracts' HF at total debt base ``debt``
        return debt == 0 or (numerator * WAD + debt // 2) // debt >= target

    if reaches(others + debt_base(r, rounding)):
        return 0
    if r.debt == 0 or not reaches(others):
        return None
    # x · WAD + D // 2 >= t · D  <=>  D <= (2 · x · WAD) // (2t − 1) (D even), one less at most (odd)
    most = (2 * numerator * WAD) // (2 * target - 1)
    while most > others and not reaches(most):
        most -= 1
    if not reaches(most) or reaches(most + 1):
        return repay_for_target(position, symbol, target_hf_wad=target_hf_wad)
    room = most - others  # the largest base value of this reserve's debt that keeps the target
    if rounding is Rounding.V3_5:
        keep = room * r.unit // r.price  # ceil(keep · price / unit) <= room
    else:
        keep = -(-(room + 1) * r.unit // r.price) - 1  # keep · price // unit <= room
    return r.debt - min(r.debt, max(0, keep))
