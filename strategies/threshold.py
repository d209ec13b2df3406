"""``threshold``: when HF falls below a trigger, restore it to a target (DeFi Saver's repay
automation). Urgency grows linearly from 0 at the trigger to 1 at HF 1."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Snapshot
from strategies.base import INTERFACE_VERSION, Intent, check

NAME = "threshold"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "decide", "wake_hf"]


@dataclass(frozen=True)
class Params:
    trigger_hf: Decimal = Decimal("1.4")
    target_hf: Decimal = Decimal("1.6")

    def __post_init__(self) -> None:
        check(self.trigger_hf > 1, "trigger_hf", f"must be > 1, got {self.trigger_hf}")
        check(
            self.target_hf > self.trigger_hf,
            "target_hf",
            f"must be > trigger_hf ({self.trigger_hf}), got {self.target_hf}",
        )


def decide(snapshot: Snapshot, params: Params) -> Intent | None:
    hf = snapshot.health_factor
    if hf is None or hf >= params.trigger_hf:
        return None
    urgency = min(Decimal(1), max(Decimal(0), (params.trigger_hf - hf) / (params.trigger_hf - 1)))
    return Intent(
        target_hf=params.target_hf,
        urgency=urgency.quantize(Decimal("0.0001")),
        reason=f"HF {hf:.4f} < trigger {params.trigger_hf}: restore to {params.target_hf}",
    )


def wake_hf(params: Params) -> Decimal:
    """Quiet at and above the trigger."""
    return params.trigger_hf
