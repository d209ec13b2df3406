"""``risk_budget``: keep the odds of liquidation within a horizon under a budget ε.

P(liq, h) is the share of history's worst falls over ``horizon_s``, in the regime of the recent
σ (the snapshot's price history over the last day), that reach the price where the position is
lost (``bot.domain.fall_odds``, the same measure as the planner's in-transit shock). Lost is
not Aave's HF 1 but earlier: the HF under which the planner may no longer withdraw, its floor
over the in-transit shock, ``floor_hf / (1 − shock)`` (the shock: the planner's table at
``shock_quantile`` over ``round_trip_s`` in the same regime, at least ``min_shock_bps``; set
them as ``[limits]`` has them). Below it only outside funds can save the position, so it is
the point a budget must keep away. Above ε the policy asks for the HF whose distance brings
the odds back to ``restore_share`` × ε; at or under ε it does nothing. A violent regime asks
for more; a calm one for nothing. Without a σ (too little history) it takes the odds over all
of history and, as the planner does then, the shock's floor.

The falls are measured once per process on the project's shipped hourly series.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache

from bot.domain import Snapshot
from bot.domain.fall_odds import FallOdds, sigma_daily
from bot.domain.shock_table import ShockTable
from strategies.base import INTERFACE_VERSION, Intent, check

NAME = "risk_budget"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "assess", "decide", "wake_hf"]

D = Decimal
ONE = D(1)


@dataclass(frozen=True)
class Params:
    horizon_s: int = 86_400
    budget: Decimal = D("0.01")  # ε: the largest P(liquidation within the horizon) accepted
    restore_share: Decimal = D("0.8")  # restore to this share of ε (a margin under it)
    # The planner's own limits (limits.hf_floor, shock_quantile, price_shock_bps) and the
    # batch round trip: they set where the planner stops being able to withdraw.
    floor_hf: Decimal = D("1.1")
    shock_quantile: Decimal = D("0.999")
    min_shock_bps: int = 300
    round_trip_s: int = 670

    def __post_init__(self) -> None:
        check(3_600 <= self.horizon_s <= 7 * 86_400, "horizon_s", f"must be in [3600, 604800], got {self.horizon_s}")
        check(self.horizon_s % 3_600 == 0, "horizon_s", f"must be whole hours, got {self.horizon_s}")
        check(D("0.0001") <= self.budget <= D("0.5"), "budget", f"must be in [0.0001, 0.5], got {self.budget}")
        check(D(0) < self.restore_share <= ONE, "restore_share", f"must be in (0, 1], got {self.restore_share}")
        check(ONE <= self.floor_hf <= D(3), "floor_hf", f"must be in [1, 3], got {self.floor_hf}")
        check(
            D("0.5") <= self.shock_quantile < ONE, "shock_quantile", f"must be in [0.5, 1), got {self.shock_quantile}"
        )
        check(0 <= self.min_shock_bps < 9_000, "min_shock_bps", f"must be in [0, 9000), got {self.min_shock_bps}")
        check(0 <= self.round_trip_s <= 86_400, "round_trip_s", f"must be in [0, 86400], got {self.round_trip_s}")


@dataclass(frozen=True, slots=True)
class Assessment:
    p_liq: Decimal
    sigma_daily: Decimal | None
    lost_hf: Decimal  # the HF under which the planner can no longer withdraw
    target_hf: Decimal | None  # None: within the budget
    restore_p: Decimal


def assess(hf: Decimal, sigma: Decimal | None, odds: FallOdds, shock_bps: int, params: Params) -> Assessment:
    """The odds at ``hf`` in the regime of ``sigma`` (with the planner's in-transit shock
    ``shock_bps`` there) and, above the budget, the HF restoring them."""
    lost = lost_hf(params.floor_hf, max(shock_bps, params.min_shock_bps))
    p_liq = odds.p_reach(ONE - lost / hf, sigma) if hf > lost else ONE
    restore_p = params.budget * params.restore_share
    if p_liq <= params.budget:
        return Assessment(p_liq, sigma, lost, None, restore_p)
    return Assessment(p_liq, sigma, lost, _hf_for(odds.distance_for(restore_p, sigma), lost), restore_p)


def lost_hf(floor_hf: Decimal, shock_bps: int) -> Decimal:
    """The HF whose position, shocked by ``shock_bps``, sits at ``floor_hf``."""
    return (floor_hf / (ONE - D(shock_bps) / 10_000)).quantize(D("0.0001"), rounding=ROUND_CEILING)


def decide(snapshot: Snapshot, params: Params) -> Intent | None:
    hf = snapshot.health_factor
    if hf is None or hf >= wake_hf(params):
        return None
    odds = fall_odds(params.horizon_s)
    sigma = sigma_daily(snapshot.price_history, now=snapshot.timestamp, window_s=odds.regime_window_s)
    a = assess(hf, sigma, odds, _shock_bps(params, sigma), params)
    if a.target_hf is None or a.target_hf <= hf:
        return None
    hours = f"{params.horizon_s // 3_600} h"
    regime = "no σ: all of history" if sigma is None else f"σ {sigma * 100:.1f} %/day"
    urgency = min(ONE, (a.p_liq - params.budget) / (ONE - params.budget))
    return Intent(
        target_hf=a.target_hf,
        urgency=urgency.quantize(D("0.0001")),
        reason=(
            f"P(liq, {hours}) = {_pct(a.p_liq)} > {_pct(params.budget)}: HF {hf:.4f} may fall to {a.lost_hf}, "
            f"the floor {params.floor_hf} over the in-transit shock ({regime}); "
            f"restore to {_pct(a.restore_p)} (HF {a.target_hf})"
        ),
    )


def wake_hf(params: Params) -> Decimal:
    """Quiet where even the liveliest regime's odds are within the budget."""
    table = _shock_table(params.shock_quantile)
    widest = table.shock_bps(params.round_trip_s, D(table.regime_edges_bps[-1]) / 10_000) if params.round_trip_s else 0
    lost = lost_hf(params.floor_hf, max(widest, params.min_shock_bps))
    return _hf_for(fall_odds(params.horizon_s).widest_distance(params.budget), lost)


def _shock_bps(params: Params, sigma: Decimal | None) -> int:
    """The planner's in-transit shock over ``round_trip_s`` in the regime of ``sigma`` (without
    a σ the planner uses its floor, ``min_shock_bps``)."""
    if sigma is None or params.round_trip_s == 0:
        return params.min_shock_bps
    return _shock_table(params.shock_quantile).shock_bps(params.round_trip_s, sigma)


def _shock_table(quantile: Decimal) -> ShockTable:
    from bot.compose.shock_history import shock_table

    return shock_table(quantile)


@lru_cache(maxsize=4)
def fall_odds(horizon_s: int) -> FallOdds:
    """History's worst falls over ``horizon_s`` (read once per process from the shipped hourly
    series: the crash windows were chosen for their crashes, odds from them would be biased)."""
    from bot.compose.shock_history import HOURLY, shipped_series
    from bot.domain.fall_odds import build_fall_odds

    hourly = [s for s in shipped_series() if s.name == HOURLY.name]
    return build_fall_odds(hourly, horizon_s=horizon_s, source="Binance ETH/USDT 1h 2017–2026")


def _hf_for(distance: Decimal, floor_hf: Decimal) -> Decimal:
    """The HF whose price can fall ``distance`` before HF reaches ``floor_hf``."""
    if distance >= ONE:
        return D("1e9")
    return (floor_hf / (ONE - distance)).quantize(D("0.0001"), rounding=ROUND_CEILING)


def _pct(share: Decimal) -> str:
    return f"{share * 100:.2f} %".replace(".00 %", " %")
