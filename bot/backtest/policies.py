"""What the backtest reads from a policy: the wake bounds it declares (``wake_hf``,
``wake_gate``: see ``strategies.base``), turned into what the runner's vectorised search
needs, and the planner's cost and market assumptions matched to the simulation.

Nothing here decides: the policy and the planner run inside the daemon's controller
(``bot.backtest.engine``). A policy that declares no bound is shown every bar (slower, never
wrong).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import numpy as np

from bot.backtest.data import Candles
from bot.backtest.runner import GateFn, SimParams
from bot.domain.shock_table import ShockTable
from bot.engine.plan_types import MarketModel, PlanCosts, TransferTimings
from strategies import DrawdownGate, LoadedPolicy


def wake_of(policy: LoadedPolicy) -> tuple[Decimal | None, GateFn | None]:
    """(wake HF, per-bar wake prices) from the policy's own declarations."""
    gate = policy.wake_gate()
    return policy.wake_hf(), (gate_prices(gate) if gate is not None else None)


def gate_prices(gate: DrawdownGate) -> GateFn:
    """Per bar, a price above which the gate is shut: for each step (dd, hf) it needs both a
    drawdown ≥ dd, i.e. P ≤ H·(1 − dd), and HF < hf, i.e. P < P_liq·hf. H is bounded above
    by the running maximum of the highs since one window before ``start`` (the policy's high
    uses closes in that window)."""
    steps = [(float(dd), float(hf)) for dd, hf in gate.steps]

    def prices(c: Candles, start: int, end: int, liq: np.ndarray) -> np.ndarray:
        ts = c.timestamp
        lo = int(np.searchsorted(ts, int(ts[start]) - gate.window_s, side="left"))
        h0 = float(np.max(c.high[lo:start])) if start > lo else float(c.high[start])
        high = np.maximum.accumulate(np.maximum(c.high[start:end], h0))
        wake = np.zeros(end - start)
        for dd, hf in steps:
            wake = np.maximum(wake, np.minimum(high * (1.0 - dd), liq * hf))
        return wake * (1.0 + 1e-7)

    return prices


COST_KEYS = {"gas_usd_per_batch", "gas_usd_per_repay", "exchange_withdrawal_fee"}
PLANNER_MARKET_KEYS = {"shock_z", "max_shock_bps", "vol_window_s"}


def planner_inputs(
    values: dict[str, Any], sim: SimParams, refill_half_life_s: float, *, shock_table: ShockTable | None = None
) -> tuple[PlanCosts, MarketModel]:
    """Costs and market assumptions for the planner; transfer timings match the simulation;
    ``shock_table`` sizes the in-transit shock from history (as in the daemon)."""
    timings = TransferTimings(deposit_s=sim.deposit_delay_s, exchange_withdrawal_s=sim.withdrawal_delay_s)
    costs = PlanCosts(timings=timings, **{k: Decimal(str(v)) for k, v in values.items() if k in COST_KEYS})
    market = MarketModel(
        refill_half_life_s=int(refill_half_life_s),
        shock_table=shock_table,
        **{k: _coerce(MarketModel, k, v) for k, v in values.items() if k in PLANNER_MARKET_KEYS},
    )
    return costs, market


def _coerce(cls: type, key: str, value: Any) -> Any:
    default = next(f for f in dataclasses.fields(cls) if f.name == key)
    kind = default.type if isinstance(default.type, str) else getattr(default.type, "__name__", "")
    text = str(value)
    if "int" in kind and "Decimal" not in kind:
        return int(Decimal(text))
    if text.lower() in ("none", "null"):
        return None
    return Decimal(text)
