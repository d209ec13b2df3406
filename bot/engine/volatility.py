"""Realised volatility from a snapshot's price history, and the in-transit price shock δ.

The HF floor must hold while withdrawn collateral is in transit, through a price fall of δ:
δ = z · σ · √T, with σ the per-√second volatility of log returns and T the round trip of one
batch, floored at the configured ``price_shock_bps``. Decimal throughout (deterministic).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

D = Decimal
SECONDS_PER_DAY = 86_400


def sigma_per_sqrt_second(history: tuple[tuple[int, Decimal], ...]) -> Decimal | None:
    """σ of log returns per √second: sqrt(Σ r² / Σ Δt) over consecutive points (irregular
    spacing allowed; points with Δt ≤ 0 or a non-positive price are skipped). None when
    fewer than two usable points."""
    total_sq = D(0)
    total_dt = 0
    prev: tuple[int, Decimal] | None = None
    for t, p in history:
        if p <= 0:
            continue
        if prev is not None and t > prev[0]:
            r = (p / prev[1]).ln()
            total_sq += r * r
            total_dt += t - prev[0]
        if prev is None or t > prev[0]:
            prev = (t, p)
    if total_dt == 0:
        return None
    return (total_sq / D(total_dt)).sqrt()


def daily_volatility(history: tuple[tuple[int, Decimal], ...]) -> Decimal | None:
    sigma = sigma_per_sqrt_second(history)
    return None if sigma is None else sigma * D(SECONDS_PER_DAY).sqrt()


def shock_bps(
    history: tuple[tuple[int, Decimal], ...],
    *,
    horizon_s: int,
    z: Decimal,
    floor_bps: int,
    max_bps: int = 5_000,
) -> int:
    """δ in basis points (rounded up): max(floor, z·σ·√horizon), at most ``max_bps``."""
    sigma = sigma_per_sqrt_second(history)
    shock = D(floor_bps)
    if sigma is not None and horizon_s > 0:
        shock = max(shock, z * sigma * D(horizon_s).sqrt() * 10_000)
    return min(int(shock.to_integral_value(rounding=ROUND_CEILING)), max_bps)
