"""A policy template: copy this file, edit ``Params`` and ``decide``, and point the config at it.

    # config.toml
    [policy]
    name = "policies/my_policy.py"        # a path to your copy (or a built-in name)
    params = { trigger_hf = "1.45", target_hf = "1.7", distance = "0.30" }

    delever backtest --prices data.csv --policy policies/my_policy.py --set trigger_hf=1.45

What you must keep (interface version 1):
- ``INTERFACE_VERSION = 1``: delever refuses a file written for another version;
- a frozen ``Params`` dataclass: every knob with a default; checks in ``__post_init__`` with
  ``check(condition, "key", "message")`` so a bad value is reported with its key;
- ``decide(snapshot, params) -> Intent | None``.

Rules for ``decide``: it is a pure function. No I/O (no files, network, clock), no state kept
between calls, no randomness — backtests, dry-runs and live runs must all see the same
decision for the same snapshot. Everything it may look at is in ``snapshot``:
- ``snapshot.health_factor`` (Decimal; None without debt), ``snapshot.position`` (per reserve:
  ``collateral``/``debt`` in base units, ``price`` in 1e8 USD, ``liquidation_threshold_bps``),
- ``snapshot.timestamp`` (UNIX s), ``snapshot.price_history`` ((time, price) of the main
  collateral, oldest first), ``snapshot.book`` (the exchange order book, or None),
- ``snapshot.wallet_balances`` / ``snapshot.exchange_balances`` (idle tokens).
Return ``None`` to do nothing, or an ``Intent``: a target HF (``Intent.restore_hf``), a
liquidation-price distance (``Intent.liquidation_distance``: 0.30 keeps it 30 % below the
market), and/or a cap on how much to sell now (``Intent.sell``); plus ``urgency`` (0–1) and a
one-line ``reason``. The planner sizes the batches: the HF floor, the slippage cap, the limits
and the exchange minimums are enforced there, whatever the policy asks.

If ``decide`` raises, delever reports the error and does not act on it (live: it halts for a
human). This template restores a target HF below a trigger, and also keeps the liquidation
price at least ``distance`` below the market.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Snapshot
from strategies.base import INTERFACE_VERSION, Intent, check, distance_for_hf, hf_for_distance

NAME = "template"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "decide", "wake_hf"]


@dataclass(frozen=True)
class Params:
    trigger_hf: Decimal = Decimal("1.45")  # act when HF falls below this
    target_hf: Decimal = Decimal("1.7")  # ... and restore it to this
    distance: Decimal = Decimal("0.30")  # keep the liquidation price ≥ 30 % below the market

    def __post_init__(self) -> None:
        check(self.trigger_hf > 1, "trigger_hf", f"must be > 1, got {self.trigger_hf}")
        check(self.target_hf > self.trigger_hf, "target_hf", "must be > trigger_hf")
        check(0 < self.distance < 1, "distance", f"must be in (0, 1), got {self.distance}")


def decide(snapshot: Snapshot, params: Params) -> Intent | None:
    hf = snapshot.health_factor
    if hf is None:  # no debt: nothing to protect
        return None

    # The liquidation price sits 1 − 1/HF below the market: keep that ≥ distance.
    if distance_for_hf(hf) < params.distance:
        target = max(params.target_hf, hf_for_distance(params.distance))
        return Intent(
            target_hf=target.quantize(Decimal("0.0001")),
            urgency=Decimal("0.5"),
            reason=f"liquidation price only {distance_for_hf(hf):.1%} below the market",
        )

    if hf < params.trigger_hf:
        return Intent.restore_hf(params.target_hf, urgency=Decimal("0.3"), reason=f"HF {hf:.3f} < {params.trigger_hf}")

    return None


def wake_hf(params: Params) -> Decimal:
    """Optional, for backtests: the HF at or above which ``decide`` never acts (here the larger
    of the trigger and the distance's HF). Leave it out and a backtest shows every bar."""
    return max(params.trigger_hf, hf_for_distance(params.distance))
