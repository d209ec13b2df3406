"""``ladder``: keep the liquidation price at least N % below the market, tightening as the
market falls (the Feb 2026 playbook: sell into the fall so the liquidation price keeps moving
down ahead of the price).

Each step is (drawdown of the collateral price from its high over ``reference_window_s``,
required distance of the liquidation price below the current price). With HF = P / P_liq the
distance d needs HF ≥ 1/(1 − d). When the position is closer than the step in force requires,
the policy asks to restore the distance plus ``restore_margin`` (hysteresis against
ping-ponging at the line).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Snapshot
from strategies.base import INTERFACE_VERSION, DrawdownGate, Intent, check, distance_for_hf, hf_for_distance
from strategies.helpers import collateral_price, drawdown, reference_high

NAME = "ladder"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "decide", "required_distance", "wake_gate", "wake_hf"]

D = Decimal


@dataclass(frozen=True)
class Params:
    steps: tuple[tuple[Decimal, Decimal], ...] = (
        (D("0"), D("0.25")),
        (D("0.10"), D("0.30")),
        (D("0.20"), D("0.35")),
        (D("0.30"), D("0.40")),
    )
    reference_window_s: int = 7 * 86_400
    restore_margin: Decimal = D("0.02")

    def __post_init__(self) -> None:
        check(len(self.steps) > 0, "steps", "needs at least one (drawdown, distance) step")
        check(self.steps[0][0] == 0, "steps", "the first step must start at drawdown 0")
        for (d0, r0), (d1, r1) in zip(self.steps, self.steps[1:]):
            check(d1 > d0, "steps", "drawdowns must increase step by step")
            check(r1 >= r0, "steps", "required distances must not loosen as the market falls")
        for dd, dist in self.steps:
            check(0 <= dd < 1, "steps", f"drawdown {dd} outside [0, 1)")
            check(0 < dist < 1, "steps", f"distance {dist} outside (0, 1)")
        check(0 <= self.restore_margin < D("0.5"), "restore_margin", "must be in [0, 0.5)")
        check(self.steps[-1][1] + self.restore_margin < 1, "restore_margin", "distance + margin must stay below 1")
        check(self.reference_window_s > 0, "reference_window_s", "must be > 0")


def required_distance(params: Params, dd: Decimal) -> Decimal:
    """The distance the step in force at drawdown ``dd`` requires."""
    required = params.steps[0][1]
    for step_dd, dist in params.steps:
        if dd >= step_dd:
            required = dist
    return required


def decide(snapshot: Snapshot, params: Params) -> Intent | None:
    hf = snapshot.health_factor
    price = collateral_price(snapshot)
    if hf is None or price is None:
        return None
    high = reference_high(snapshot, window_s=params.reference_window_s, current=price)
    dd = drawdown(price, high)
    required = required_distance(params, dd)
    current = distance_for_hf(hf) if hf > 0 else D(-1)
    if current >= required:
        return None
    target = required + params.restore_margin
    urgency = min(D(1), max(D(0), (required - current) / required))
    return Intent(
        target_hf=hf_for_distance(target).quantize(D("0.0001")),
        urgency=urgency.quantize(D("0.0001")),
        reason=(
            f"liquidation price {current:.1%} below market < {required:.0%} required at a "
            f"{dd:.1%} drawdown: restore to {target:.0%}"
        ),
    )


def wake_hf(params: Params) -> Decimal:
    """Quiet at and above the HF of the widest step's distance."""
    return hf_for_distance(max(dist for _, dist in params.steps))


def wake_gate(params: Params) -> DrawdownGate:
    """Step (dd, dist) can fire only at a drawdown ≥ dd and HF < 1/(1 − dist)."""
    return DrawdownGate(params.reference_window_s, tuple((dd, hf_for_distance(dist)) for dd, dist in params.steps))
