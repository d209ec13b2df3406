"""Urgency-scaled gas: the nearer HF is to the floor, the more a transaction may pay.

Never "wait for cheap gas": a deleveraging tx that is late costs a liquidation bonus (5% of
the repaid debt on WETH), which dwarfs any gas saving. This module only decides the urgency;
the fee arithmetic, replacement bumps and the one fee cap live with the tx sender
(``bot.adapters.chain.fees``), which scales its first offer by this multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class GasPolicy:
    base_multiplier: Decimal = Decimal("1.25")  # on the market's fees, when HF is comfortable
    max_multiplier: Decimal = Decimal("4")  # at or below the floor (the fee cap still applies)
    urgency_band: Decimal = Decimal("0.5")  # HF distance above the floor over which urgency ramps


def urgency_multiplier(*, hf: Decimal | None, hf_floor: Decimal, policy: GasPolicy = GasPolicy()) -> Decimal:
    """``base_multiplier`` when HF ≥ floor + band, ``max_multiplier`` at or below the floor,
    linear in between. No debt (HF None) is never urgent."""
    if hf is None:
        return policy.base_multiplier
    distance = hf - hf_floor
    if distance <= 0:
        return policy.max_multiplier
    if distance >= policy.urgency_band:
        return policy.base_multiplier
    closeness = 1 - distance / policy.urgency_band  # 0 at the band's top, 1 at the floor
    return policy.base_multiplier + (policy.max_multiplier - policy.base_multiplier) * closeness
