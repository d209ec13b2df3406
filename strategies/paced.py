"""``paced``: spread a large unwind over time, TWAP-like, under a participation cap, and
front-load as the health factor nears the floor.

Each decision plans the rest of the unwind afresh as an Almgren–Chriss schedule over
``horizon_s`` and asks for its first slice (one ``interval_s``). With trade half-life 1/κ the
holdings left follow x(t) = X·sinh(κ(T − t))/sinh(κT), so the first slice is the fraction
f = 1 − sinh(κ(T − τ))/sinh(κT) of the remainder X: κ → 0 gives TWAP (f = τ/T); a large κ
sells most of it at once. Here κT grows with urgency u = (target − HF)/(target − floor) — the
"risk" a deleverager prices is the chance of hitting the floor before finishing, so the
closer HF sits to the floor, the more is sold now. The policy is stateless: the remainder X
is recomputed from the position every time, so a missed or partial slice is caught up.

The slice is further capped at ``participation`` × the bid depth within ``depth_band_bps``
of the best bid (when the snapshot has a book).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from bot.domain import Snapshot
from strategies.base import INTERFACE_VERSION, Intent, check
from strategies.helpers import book_depth_qty, main_collateral, sell_qty_for_target

NAME = "paced"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "decide", "first_slice_fraction", "urgency", "wake_hf"]

D = Decimal


@dataclass(frozen=True)
class Params:
    target_hf: Decimal = D("1.8")
    floor_hf: Decimal = D("1.1")
    trigger_hf: Decimal | None = None  # act only below this HF (None: whenever below target)
    horizon_s: int = 86_400
    interval_s: int = 3_600
    max_kappa_t: Decimal = D("6")  # κT at full urgency (0: plain TWAP)
    participation: Decimal = D("0.2")
    depth_band_bps: Decimal = D("100")

    def __post_init__(self) -> None:
        check(self.floor_hf >= 1, "floor_hf", f"must be >= 1, got {self.floor_hf}")
        check(self.target_hf > self.floor_hf, "target_hf", f"must be > floor_hf ({self.floor_hf})")
        if self.trigger_hf is not None:
            check(self.floor_hf < self.trigger_hf <= self.target_hf, "trigger_hf", "must be in (floor_hf, target_hf]")
        check(self.horizon_s > 0, "horizon_s", "must be > 0")
        check(0 < self.interval_s <= self.horizon_s, "interval_s", "must be in (0, horizon_s]")
        check(0 <= self.max_kappa_t <= 50, "max_kappa_t", "must be in [0, 50]")
        check(0 < self.participation <= 1, "participation", "must be in (0, 1]")
        check(0 < self.depth_band_bps < 10_000, "depth_band_bps", "must be in (0, 10000)")


def urgency(params: Params, hf: Decimal) -> Decimal:
    u = (params.target_hf - hf) / (params.target_hf - params.floor_hf)
    return min(D(1), max(D(0), u))


def first_slice_fraction(*, kappa_t: Decimal, tau_over_t: Decimal) -> Decimal:
    """Fraction of the remainder the Almgren–Chriss schedule sells in its first interval."""
    if tau_over_t >= 1:
        return D(1)
    if kappa_t <= D("1e-9"):
        return tau_over_t
    return D(1) - _sinh(kappa_t * (1 - tau_over_t)) / _sinh(kappa_t)


def _sinh(x: Decimal) -> Decimal:
    return (x.exp() - (-x).exp()) / 2


def decide(snapshot: Snapshot, params: Params) -> Intent | None:
    hf = snapshot.health_factor
    collateral = main_collateral(snapshot.position)
    if hf is None or collateral is None or hf >= params.target_hf:
        return None
    if params.trigger_hf is not None and hf >= params.trigger_hf:
        return None
    remainder = sell_qty_for_target(snapshot.position, collateral.symbol, params.target_hf)
    if remainder <= 0:
        return None
    u = urgency(params, hf)
    fraction = first_slice_fraction(
        kappa_t=params.max_kappa_t * u, tau_over_t=D(params.interval_s) / D(params.horizon_s)
    )
    slice_qty = remainder * fraction
    capped = ""
    depth = book_depth_qty(snapshot, band_bps=params.depth_band_bps)
    if depth is not None and slice_qty > params.participation * depth:
        slice_qty = params.participation * depth
        capped = f", capped at {params.participation:.0%} of the book"
    return Intent.sell(
        slice_qty.quantize(D("1e-8"), rounding=ROUND_DOWN),
        target_hf=params.target_hf,
        urgency=u.quantize(D("0.0001")),
        collateral=collateral.symbol,
        reason=(
            f"HF {hf:.4f} below {params.target_hf}: sell {fraction:.1%} of the "
            f"{remainder:.4f} {collateral.symbol} left to reach it{capped}"
        ),
    )


def wake_hf(params: Params) -> Decimal:
    """Quiet at and above the trigger (or the target, without one)."""
    return params.trigger_hf if params.trigger_hf is not None else params.target_hf
