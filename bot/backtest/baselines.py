"""Baselines the policies are measured against, as simple explicit strategies.

- ``do-nothing``: holds the position and takes whatever liquidations come.
- ``sell-all``: at the first trigger, unwinds the whole debt as fast as the contract allows:
  withdraw the most Aave accepts (HF ≥ ``min_hf_mid`` after the withdrawal, no shock margin),
  market-sell it with no slippage cap, repay, repeat.
- ``one-shot``: a DeFi-Saver-style automation: when HF ≤ trigger, one flash-loan transaction
  swaps collateral on a DEX and repays to the target HF — no transfer legs and no HF dip, but
  the whole size in one sweep of the book (no refill) and a DEX + service fee.

They run through the same simulated adapters, market model and liquidation rules as the
policies; they just size their own batches instead of calling the planner.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bot.backtest.adapters import COLL, DEBT, SimVenue
from bot.backtest.runner import NEVER, BatchOrder
from bot.domain.book import walk_bids
from bot.domain.position import decimal_to_wad, from_units, health_factor_wad, to_units
from bot.domain.sizing import max_withdraw, repay_for_target
from bot.domain.snapshot import Snapshot

ALWAYS = Decimal(10**9)  # a wake HF every position is below: look at every quiet bar


class DoNothing:
    name = "do-nothing"

    def wake_health_factor(self) -> Decimal | None:
        return NEVER

    def next_batch(self, snapshot: Snapshot, venue: SimVenue) -> BatchOrder | None:
        return None


@dataclass
class SellAll:
    trigger_hf: Decimal = Decimal("1.25")
    min_hf_mid: Decimal = Decimal("1.01")
    name: str = "sell-all"
    triggered: bool = False

    def wake_health_factor(self) -> Decimal | None:
        return ALWAYS if self.triggered else self.trigger_hf

    def next_batch(self, snapshot: Snapshot, venue: SimVenue) -> BatchOrder | None:
        pos = snapshot.position
        hf = health_factor_wad(pos)
        if not self.triggered and hf > decimal_to_wad(self.trigger_hf):
            return None
        self.triggered = True
        debt = pos.reserve(DEBT).debt
        if debt == 0:
            return None
        price = from_units(pos.reserve(COLL).price, 8)
        needed = to_units((from_units(debt, 6) * Decimal("1.03") / price), 18)  # 3 % margin for impact
        units = min(needed, max_withdraw(pos, COLL, min_hf_wad=decimal_to_wad(self.min_hf_mid)))
        units -= units % 10**14  # whole exchange lots (0.0001 ETH)
        return BatchOrder(units, None) if units > 0 else None


@dataclass
class OneShot:
    trigger_hf: Decimal = Decimal("1.25")
    target_hf: Decimal = Decimal("1.5")
    fee_bps: int = 35  # DEX pool fee + automation service fee
    name: str = "one-shot"

    def wake_health_factor(self) -> Decimal | None:
        return self.trigger_hf

    def next_batch(self, snapshot: Snapshot, venue: SimVenue) -> BatchOrder | None:
        pos = snapshot.position
        if health_factor_wad(pos) > decimal_to_wad(self.trigger_hf) or snapshot.book is None:
            return None
        repay = repay_for_target(pos, DEBT, target_hf_wad=decimal_to_wad(self.target_hf))
        if repay is None:
            repay = pos.reserve(DEBT).debt
        if not repay:
            return None
        # The quantity whose sweep, net of fees, pays ``repay`` — solved on the book (the DEX quote).
        need = from_units(repay, 6)
        keep = Decimal(1) - Decimal(self.fee_bps) / Decimal(10_000)
        coll = from_units(pos.reserve(COLL).collateral, 18)
        lo, hi = Decimal(0), coll
        for _ in range(40):
            mid = (lo + hi) / 2
            if walk_bids(snapshot.book.bids, mid).notional * keep >= need:
                hi = mid
            else:
                lo = mid
        qty = hi.quantize(Decimal("0.0001"), rounding=ROUND_CEILING)
        return BatchOrder(min(to_units(qty, 18), pos.reserve(COLL).collateral), None, atomic=True,
                          atomic_fee_bps=self.fee_bps)


BASELINES = ("do-nothing", "sell-all", "one-shot")


def make_baseline(name: str, params: dict[str, str]) -> DoNothing | SellAll | OneShot:
    trigger = Decimal(params.get("trigger_hf", "1.25"))
    if name == "do-nothing":
        return DoNothing()
    if name == "sell-all":
        return SellAll(trigger_hf=trigger)
    if name == "one-shot":
        return OneShot(trigger_hf=trigger, target_hf=Decimal(params.get("target_hf", "1.5")))
    raise KeyError(name)
