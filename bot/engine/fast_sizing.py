"""``max_withdraw`` with the same answer as ``bot.domain.max_withdraw`` in ~10 exact HF
evaluations instead of ~70: start at the closed-form estimate, gallop to a bracket, bisect.

HF is monotone in the withdrawn amount, so "largest safe amount" is unique; the estimate only
speeds up the search, the exact contract HF decides.
"""

from __future__ import annotations

from bot.domain import Position, health_factor_wad
from bot.domain.position import debt_base
from bot.domain.sizing import after_withdraw
from bot.domain.wadray import WAD


def max_withdraw_fast(position: Position, symbol: str, *, min_hf_wad: int) -> int:
    r = position.reserve(symbol)
    if r.collateral == 0:
        return 0
    if not r.counts_as_collateral or not position.debts:
        return r.collateral
    if health_factor_wad(position) < min_hf_wad:
        return 0

    def safe(amount: int) -> bool:
        return health_factor_wad(after_withdraw(position, symbol, amount)) >= min_hf_wad

    if safe(r.collateral):
        return r.collateral
    weighted = sum((c.collateral * c.price // c.unit) * c.liquidation_threshold_bps for c in position.collaterals)
    debt = sum(debt_base(d, position.rounding) for d in position.debts)
    room = weighted * WAD - min_hf_wad * debt * 10_000
    estimate = max(0, min(r.collateral, room * r.unit // (r.price * r.liquidation_threshold_bps * WAD)))
    # Bracket [lo, hi): lo safe, hi unsafe.
    step = 1
    if safe(estimate):
        lo, hi = estimate, estimate + step
        while hi < r.collateral and safe(hi):
            lo, step = hi, step * 2
            hi = min(r.collateral, lo + step)
    else:
        hi, lo = estimate, max(0, estimate - step)
        while lo > 0 and not safe(lo):
            hi, step = lo, step * 2
            lo = max(0, hi - step)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if safe(mid):
            lo = mid
        else:
            hi = mid
    return lo
