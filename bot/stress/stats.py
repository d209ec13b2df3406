"""Pure statistics of a stress run: per policy and grid point, from one outcome row per path.

Money stays Decimal (the per-path metrics are fixed-precision strings); quantiles are the
nearest rank (a value some path really had, no interpolation); P(liquidation) carries a 95 %
Wilson score interval, which stays inside [0, 1] and is honest at 0 of N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

Z95 = 1.959963984540054
P_PLACES = 6


@dataclass(frozen=True)
class PathOutcome:
    """What one path did to one actor (strings: the backtest's fixed-precision metrics)."""

    liquidated: bool
    shortfall_usd: str
    liquidation_penalty_usd: str
    equity_vs_hold_usd: str
    min_health_factor: str | None
    time_to_target_s: int | None  # from the first action to HF ≥ target (None: never acted or reached)
    acted: bool


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion k/n."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at k = 0 (k = n) the bound is exactly 0 (1); float rounding would leave 1e-18
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def _p(value: float | Decimal) -> str:
    return str(Decimal(repr(value) if isinstance(value, float) else value).quantize(Decimal(1).scaleb(-P_PLACES)))


def nearest_rank(sorted_values: list[Any], q: float) -> Any:
    """The q-quantile by nearest rank of an ascending list (None if empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def cvar(sorted_values: list[Decimal], q: float) -> Decimal | None:
    """Mean of the worst (largest) 1 − q share of the values, at least one of them."""
    if not sorted_values:
        return None
    worst = max(1, math.ceil(round((1 - q) * len(sorted_values), 9)))
    tail = sorted_values[-worst:]
    return _money(sum(tail, Decimal(0)) / len(tail))


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def _mean(values: list[Decimal]) -> Decimal | None:
    return _money(sum(values, Decimal(0)) / len(values)) if values else None


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def summarise_policy(outcomes: list[PathOutcome]) -> dict[str, Any]:
    """The stress metrics of one actor over its paths, in a fixed key order."""
    n = len(outcomes)
    liq = sum(o.liquidated for o in outcomes)
    lo, hi = wilson(liq, n)
    shortfall = sorted(Decimal(o.shortfall_usd) for o in outcomes)
    penalty = sorted(Decimal(o.liquidation_penalty_usd) for o in outcomes)
    equity = sorted(Decimal(o.equity_vs_hold_usd) for o in outcomes)
    min_hf = sorted(Decimal(o.min_health_factor) for o in outcomes if o.min_health_factor is not None)
    ttt = sorted(o.time_to_target_s for o in outcomes if o.time_to_target_s is not None)
    return {
        "paths": n,
        "liquidated_paths": liq,
        "p_liquidation": _p(Decimal(liq) / n) if n else None,
        "p_liquidation_ci": [_p(lo), _p(hi)],
        "acted_paths": sum(o.acted for o in outcomes),
        "shortfall_usd_mean": _s(_mean(shortfall)),
        "shortfall_usd_p95": _s(nearest_rank(shortfall, 0.95)),
        "shortfall_usd_cvar95": _s(cvar(shortfall, 0.95)),
        "liquidation_penalty_usd_mean": _s(_mean(penalty)),
        "liquidation_penalty_usd_p95": _s(nearest_rank(penalty, 0.95)),
        "time_to_target_paths": len(ttt),
        "time_to_target_s_median": nearest_rank(ttt, 0.5),
        "time_to_target_s_p95": nearest_rank(ttt, 0.95),
        "min_health_factor_p5": _s(nearest_rank(min_hf, 0.05)),
        "min_health_factor_median": _s(nearest_rank(min_hf, 0.5)),
        "equity_vs_hold_usd_mean": _s(_mean(equity)),
        "equity_vs_hold_usd_p5": _s(nearest_rank(equity, 0.05)),
        "equity_vs_hold_usd_median": _s(nearest_rank(equity, 0.5)),
    }


def min_hf_survival(outcomes: list[PathOutcome], levels: list[Decimal]) -> list[str]:
    """Share of paths whose minimum HF stayed above each level (a survival curve of HF)."""
    n = len(outcomes)
    lows = [Decimal(o.min_health_factor) if o.min_health_factor is not None else None for o in outcomes]
    return [_p(Decimal(sum(1 for x in lows if x is None or x > lvl)) / n) if n else "0" for lvl in levels]
