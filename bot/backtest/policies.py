"""Policies in the backtest: the daemon's own policy and planner code behind the runner.

``PolicyDecider`` calls ``strategies`` (``LoadedPolicy.decide_safely``) and
``bot.engine.planner.plan`` exactly as the controller does, on a ``Snapshot`` read from the
simulated adapters, and hands the runner the plan's first unwind batch; the next decision is
taken on a fresh snapshot once that batch has landed. Nothing here re-implements a decision.

The only thing the backtest adds is a *wake health factor* per policy, used to jump over bars
where the policy cannot act (see ``runner``). It must be an upper bound: at any HF above it
the policy returns None whatever else the snapshot holds. Unknown policies get None (every
bar is shown to them: slower, never wrong).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from bot.backtest.adapters import SimVenue
from bot.backtest.data import Candles
from bot.backtest.runner import NEVER, BatchOrder, SimParams
from bot.domain.snapshot import Snapshot
from bot.engine.planner import MarketModel, Plan, PlanCosts, PlanLimits, TransferTimings, plan
from strategies import LoadedPolicy

ONE = Decimal(1)


def wake_health_factor(policy: LoadedPolicy) -> Decimal | None:
    p = policy.params
    if policy.name == "none":
        return NEVER
    if policy.name == "threshold":
        return p.trigger_hf
    if policy.name == "paced":
        return p.trigger_hf if p.trigger_hf is not None else p.target_hf
    if policy.name == "ladder":
        return ONE / (ONE - max(dist for _, dist in p.steps))  # never acts at or above this HF
    hint = getattr(p, "wake_hf", None)
    return Decimal(str(hint)) if hint is not None else None


@dataclass
class PolicyDecider:
    policy: LoadedPolicy
    limits: PlanLimits
    costs: PlanCosts
    market: MarketModel
    name: str = ""
    plans: list[tuple[Snapshot, Plan]] = field(default_factory=list)  # kept when ``record`` is set
    errors: list[str] = field(default_factory=list)
    record: bool = False
    _sold_day: int = -1
    _sold_usd: Decimal = Decimal(0)
    _sold_qty: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        self.name = self.name or self.policy.name
        self._wake = wake_health_factor(self.policy)

    def wake_health_factor(self) -> Decimal | None:
        return self._wake

    def __getattr__(self, name: str) -> Any:
        # ``wake_prices`` exists only for policies with a price-dependent wake (the ladder).
        if name == "wake_prices" and self.policy.name == "ladder":
            return self._ladder_wake_prices
        raise AttributeError(name)

    def _ladder_wake_prices(self, c: Candles, start: int, end: int, liq: np.ndarray) -> np.ndarray:
        """Per bar, a price above which the ladder cannot act: for each step (dd_k, dist_k) it
        needs both drawdown ≥ dd_k, i.e. P ≤ H·(1 − dd_k), and HF < 1/(1 − dist_k), i.e.
        P < P_liq/(1 − dist_k). H is bounded above by the running maximum of the highs since
        one reference window before ``start`` (the policy's high uses closes in that window)."""
        p = self.policy.params
        ts = c.timestamp
        lo = int(np.searchsorted(ts, int(ts[start]) - p.reference_window_s, side="left"))
        h0 = float(np.max(c.high[lo:start])) if start > lo else float(c.high[start])
        high = np.maximum.accumulate(np.maximum(c.high[start:end], h0))
        wake = np.zeros(end - start)
        for dd, dist in p.steps:
            wake = np.maximum(wake, np.minimum(high * (1.0 - float(dd)), liq / (1.0 - float(dist))))
        return wake * (1.0 + 1e-7)

    def limits_for(self, snapshot: Snapshot) -> PlanLimits:
        """The configured limits with today's sold totals, as the controller passes them."""
        if snapshot.timestamp // 86_400 != self._sold_day:
            return self.limits
        return dataclasses.replace(self.limits, sold_today_usd=self._sold_usd, sold_today_qty=self._sold_qty)

    def next_batch(self, snapshot: Snapshot, venue: SimVenue) -> BatchOrder | None:
        decision = self.policy.decide_safely(snapshot)
        if decision.error:
            self.errors.append(decision.error)
            return None
        if decision.intent is None:
            return None
        the_plan = plan(snapshot, decision.intent, limits=self.limits_for(snapshot), rules=venue.rules("ETH/USDT"),
                        costs=self.costs, market=self.market)
        if self.record:
            self.plans.append((snapshot, the_plan))
        batch = next((b for b in the_plan.batches if b.kind == "unwind"), None)
        if batch is None or batch.withdraw_units <= 0:
            return None
        self._count_sold(snapshot, batch.withdraw_amount, batch.gross_quote)
        return BatchOrder(batch.withdraw_units, self.limits.max_slippage_bps)

    def _count_sold(self, snapshot: Snapshot, qty: Decimal, usd: Decimal) -> None:
        day = snapshot.timestamp // 86_400
        if day != self._sold_day:
            self._sold_day, self._sold_usd, self._sold_qty = day, Decimal(0), Decimal(0)
        self._sold_usd += usd
        self._sold_qty += qty


LIMIT_KEYS = {f.name for f in dataclasses.fields(PlanLimits)} - {"sold_today_usd", "sold_today_qty"}
COST_KEYS = {"gas_usd_per_batch", "gas_usd_per_repay", "exchange_withdrawal_fee"}
PLANNER_MARKET_KEYS = {"shock_z", "max_shock_bps", "vol_window_s"}


def planner_inputs(values: dict[str, Any], sim: SimParams, refill_half_life_s: float,
                   default_limits: PlanLimits | None = None) -> tuple[PlanLimits, PlanCosts, MarketModel]:
    """Limits, costs and market assumptions for the planner; transfer timings match the simulation."""
    base = default_limits or PlanLimits(hf_floor=Decimal("1.05"), max_slippage_bps=50, price_shock_bps=300,
                                        max_batch_usd=None, max_daily_usd=None, min_batch_usd=Decimal(0))
    limits = dataclasses.replace(base, **{k: _coerce(PlanLimits, k, v) for k, v in values.items() if k in LIMIT_KEYS})
    timings = TransferTimings(deposit_s=sim.deposit_delay_s, exchange_withdrawal_s=sim.withdrawal_delay_s)
    costs = PlanCosts(timings=timings, **{k: Decimal(str(v)) for k, v in values.items() if k in COST_KEYS})
    market = MarketModel(refill_half_life_s=int(refill_half_life_s),
                         **{k: _coerce(MarketModel, k, v) for k, v in values.items() if k in PLANNER_MARKET_KEYS})
    return limits, costs, market


def _coerce(cls: type, key: str, value: Any) -> Any:
    default = next(f for f in dataclasses.fields(cls) if f.name == key)
    kind = default.type if isinstance(default.type, str) else getattr(default.type, "__name__", "")
    text = str(value)
    if "int" in kind and "Decimal" not in kind:
        return int(Decimal(text))
    if text.lower() in ("none", "null"):
        return None
    return Decimal(text)
