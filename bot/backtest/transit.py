"""What a run had in transit and how HF moved meanwhile, for the metrics.

In transit: collateral off the pool (wallet, on its way, on the exchange) and stablecoins on
the exchange or on their way back — not the wallet's stablecoins (idle funds or the buffer).
Each batch's start is its first keyed call (before its effect): HF then, and HF per unit of
collateral price (``k``), so that "HF where the batch started, at today's price" is
``start_k × price`` with a single volatile collateral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

IN_TRANSIT_MIN_USD = 1.0  # less off the pool is dust under the lot step or a unit, not transit


@dataclass
class TransitWatch:
    max_usd: float = 0.0
    min_hf: float = math.inf  # lowest HF seen while something was in transit
    # Largest fall of HF below the start of the batch in transit (0: never below).
    max_dip_below_start: float = 0.0
    # Lowest HF relative to the batch's start position at the same price (≥ 1: never below).
    min_vs_start_same_price: float = math.inf
    active: bool = False
    _start_hf: float | None = None
    _start_k: float | None = None

    def batch_started(self, hf: float, k: float) -> None:
        self._start_hf, self._start_k = hf, k

    def state(self, value_usd: float, k: float) -> None:
        """The pool position or what is off it changed: ``k`` is HF per unit of price now."""
        self.active = value_usd >= IN_TRANSIT_MIN_USD
        if not self.active:
            return
        self.max_usd = max(self.max_usd, value_usd)
        if self._start_k:
            self.min_vs_start_same_price = min(self.min_vs_start_same_price, k / self._start_k)

    def hf(self, hf: float) -> None:
        """An HF reading (a bar's open or low, a state change) at the world's time."""
        if not self.active or math.isinf(hf):
            return
        self.min_hf = min(self.min_hf, hf)
        if self._start_hf is not None:
            self.max_dip_below_start = max(self.max_dip_below_start, self._start_hf - hf)
