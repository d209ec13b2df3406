"""``none``: watch only. Never acts; useful as a backtest baseline and for monitoring."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Snapshot
from strategies.base import INTERFACE_VERSION, Intent

NAME = "none"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "decide", "wake_hf"]


@dataclass(frozen=True)
class Params:
    pass


def decide(snapshot: Snapshot, params: Params) -> Intent | None:
    return None


def wake_hf(params: Params) -> Decimal:
    """Never acts."""
    return Decimal(0)
