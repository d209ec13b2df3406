"""EIP-1559 fee policy: the first offer, and replacements that every node accepts.

First offer (urgency ``u`` ≥ 1, a Decimal):

    tip         = max(node's suggested priority fee, min_tip) · u
    maxFeePerGas = 2 · baseFee · u + tip

``2 · baseFee`` survives six consecutive full blocks (+12.5 % each) before the tx stalls, and
urgency scales both the headroom and the tip instead of waiting for gas to fall.

Replacement: geth needs BOTH fields raised by ≥ 10 % (Besu compares the effective tip, so a
maxFee-only bump is "underpriced"); we bump by 12.5 % (rounded up), take the market's current
offer when that is higher, and never exceed the cap. At the cap we stop and alert: looping on
rejected bumps helps nobody.

The cap (``MAX_FEE_CAP_WEI``) is the one ceiling on ``maxFeePerGas``: urgency (chosen by the
engine from HF's distance to the floor) never lifts it, so a broken fee oracle or a gas spike
cannot drain the wallet. An offer over it is clamped to it, the tip to the room the base fee
leaves; only a base fee at the cap is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

GWEI = 10**9
NODE_MIN_BUMP_BPS = 1_000  # geth's txpool price bump: +10 %
DEFAULT_BUMP_BPS = 1_250  # what we send: +12.5 % (OpenEthereum's rule, web3.py's default)
DEFAULT_MIN_TIP = 1 * GWEI
MAX_FEE_CAP_WEI = 500 * GWEI  # no maxFeePerGas above this, whatever the urgency


class FeeCapReached(Exception):
    """A replacement would exceed the configured fee cap: stop bumping and alert."""


@dataclass(frozen=True, slots=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def __post_init__(self) -> None:
        if self.max_priority_fee_per_gas < 0 or self.max_fee_per_gas < self.max_priority_fee_per_gas:
            raise ValueError(f"invalid EIP-1559 fees {self.max_fee_per_gas}/{self.max_priority_fee_per_gas}")


def _ceil_bps(value: int, bps: int) -> int:
    """ceil(value · (1 + bps/1e4)) in integers."""
    return -((-value * (10_000 + bps)) // 10_000)


def initial_fees(
    *,
    base_fee: int,
    suggested_tip: int,
    urgency: Decimal = Decimal(1),
    min_tip: int = DEFAULT_MIN_TIP,
    cap: int = MAX_FEE_CAP_WEI,
) -> Fees:
    if urgency < 1:
        raise ValueError(f"urgency must be >= 1, got {urgency}")
    tip = int((Decimal(max(suggested_tip, min_tip)) * urgency).to_integral_value(rounding=ROUND_CEILING))
    max_fee = int((Decimal(2 * base_fee) * urgency).to_integral_value(rounding=ROUND_CEILING)) + tip
    if max_fee > cap:
        if base_fee >= cap:
            raise FeeCapReached(f"base fee {base_fee} wei already reaches the cap {cap}")
        # The most urgent offer under the cap: the whole room above the base fee as tip. (Our
        # own urgent tips raise the node's suggestion, so scaling it again can pass the cap.)
        max_fee, tip = cap, min(tip, cap - base_fee)
    return Fees(max_fee, tip)


def is_valid_replacement(old: Fees, new: Fees, *, min_bump_bps: int = NODE_MIN_BUMP_BPS) -> bool:
    """Would a node replace ``old`` with ``new``? Both fields must rise by ≥ ``min_bump_bps``."""
    return new.max_fee_per_gas >= _ceil_bps(
        old.max_fee_per_gas, min_bump_bps
    ) and new.max_priority_fee_per_gas >= _ceil_bps(old.max_priority_fee_per_gas, min_bump_bps)


def replacement_fees(
    old: Fees,
    *,
    market: Fees | None = None,
    cap: int,
    bump_bps: int = DEFAULT_BUMP_BPS,
    min_bump_bps: int = NODE_MIN_BUMP_BPS,
) -> Fees:
    """Fees for a replacement of ``old``: ≥ +``bump_bps`` on both fields, at least ``market``.

    Clamped to ``cap`` when the clamped offer still clears the node's bump rule; otherwise
    ``FeeCapReached``.
    """
    tip = _ceil_bps(old.max_priority_fee_per_gas, bump_bps)
    max_fee = _ceil_bps(old.max_fee_per_gas, bump_bps)
    if market is not None:
        tip = max(tip, market.max_priority_fee_per_gas)
        max_fee = max(max_fee, market.max_fee_per_gas)
    max_fee = max(max_fee, tip)
    if max_fee > cap:
        max_fee = cap
        tip = min(tip, cap)
    new = Fees(max_fee, tip)
    if not is_valid_replacement(old, new, min_bump_bps=min_bump_bps):
        raise FeeCapReached(
            f"fee cap {cap} wei leaves no valid replacement for {old.max_fee_per_gas}/{old.max_priority_fee_per_gas}"
        )
    return new
