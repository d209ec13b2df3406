"""Urgency-scaled gas: the nearer HF is to the floor, the more a transaction may pay.

Never "wait for cheap gas": a deleveraging tx that is late costs a liquidation bonus (5% of
the repaid debt on WETH), which dwarfs any gas saving. The multiplier is capped so a broken
fee oracle cannot drain the wallet. Pure functions, Decimal in, int wei out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

WAD = Decimal(10**18)


@dataclass(frozen=True, slots=True)
class GasPolicy:
    base_multiplier: Decimal = Decimal("1.25")  # on the base fee, when HF is comfortable
    max_multiplier: Decimal = Decimal("4")  # cap, at or below the floor
    urgency_band: Decimal = Decimal("0.5")  # HF distance above the floor over which urgency ramps
    min_priority_fee_wei: int = 1_000_000_000  # 1 gwei
    max_fee_cap_wei: int = 2_000_000_000_000  # 2,000 gwei: above this, refuse and alert


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


@dataclass(frozen=True, slots=True)
class FeeQuote:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    multiplier: Decimal


def eip1559_fees(
    *, base_fee_wei: int, priority_fee_wei: int, hf: Decimal | None, hf_floor: Decimal, policy: GasPolicy = GasPolicy()
) -> FeeQuote:
    """Fees for the next transaction: both the tip and the fee cap scale with urgency,
    capped at ``max_fee_cap_wei`` (the tip never exceeds the cap)."""
    m = urgency_multiplier(hf=hf, hf_floor=hf_floor, policy=policy)
    tip = max(policy.min_priority_fee_wei, _ceil(Decimal(priority_fee_wei) * m))
    max_fee = _ceil(Decimal(base_fee_wei) * 2 * m) + tip  # 2×: room for base-fee growth over a few blocks
    max_fee = min(max_fee, policy.max_fee_cap_wei)
    return FeeQuote(max_fee, min(tip, max_fee), m)


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))
