"""The held target (``engine.hold_to_target``) as the journal keeps it: the policy's
restore-to-target intent, carried across ticks and restarts until HF reaches it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from strategies.base import Intent


def intent_payload(intent: Intent) -> dict[str, Any]:
    """A held intent as journal JSON (Decimals as strings)."""
    return {
        "target_hf": None if intent.target_hf is None else str(intent.target_hf),
        "urgency": str(intent.urgency),
        "reason": intent.reason,
        "collateral": intent.collateral,
        "debt": intent.debt,
        "policy": intent.policy,
    }


def intent_from_payload(payload: dict[str, Any]) -> Intent | None:
    """The held intent back from the journal; None when unreadable (the hold is then dropped)."""
    try:
        return Intent(
            target_hf=Decimal(payload["target_hf"]),
            urgency=Decimal(payload.get("urgency") or 0),
            reason=str(payload.get("reason") or ""),
            collateral=payload.get("collateral"),
            debt=payload.get("debt"),
            policy=str(payload.get("policy") or ""),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None
