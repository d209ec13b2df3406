"""Reference strategies the policies are measured against. They are not the engine: each is a
small explicit rule, run where it can through the same engine as the policies.

- ``do-nothing``: holds the position and takes whatever liquidations come.
- ``sell-all``: at the first trigger, unwinds the whole debt as fast as the contract allows.
  Its own sizing (the most Aave lets leave with HF ≥ ``min_hf_mid``, no shock margin) is a
  ``PlanFn`` run by the real controller and executor, with the limits of a panic seller: HF
  floor ``min_hf_mid``, no shock, slippage up to the schema's maximum, no cooldown, no
  divergence pause. The transfer legs, the sell, the repay are the executor's.
- ``one-shot``: a DeFi-Saver-style automation: when HF ≤ trigger, one flash-loan transaction
  through the simulated DEX (``bot.backtest.dex``) repays towards the target HF — no transfer
  legs and no HF dip, but only as much as one pool gives within its slippage limit (the
  largest swap that passes it; else a revert), plus the automation's service fee.
- ``hindsight``: a yardstick, not a policy: the least collateral that, sold at the first bar
  through the same book (taker fee included; a sale larger than the book sweeps it again
  from where the last sweep left the mid) and repaid, keeps the position
  unliquidated over the whole path — found by bisection over the amount, knowing the path.
  Where no sale through the book survives (a position far larger than the book), the least
  sale at the first price with no impact, and the run says so.
  Each run's ``sold_vs_hindsight`` is its ``collateral_sold`` over this.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np

from bot.backtest.adapters import record_fill
from bot.backtest.dex import SimDex
from bot.backtest.engine import EngineActor
from bot.backtest.lending import SECONDS_PER_YEAR
from bot.backtest.market import Market
from bot.backtest.runner import NEVER, Sim, Wake
from bot.compose.configs import simulated_engine
from bot.domain.book import SellFill, depth_above, floor_price
from bot.domain.dex_depth import largest_output_within
from bot.domain.position import decimal_to_wad, from_units, health_factor_wad, to_units
from bot.domain.sizing import max_withdraw
from bot.domain.snapshot import Snapshot
from bot.domain.wadray import WAD
from bot.engine.controller import PlanChoice, PlanContext
from bot.engine.steps import BatchSpec
from bot.ports import Outcome
from bot.settings import BacktestSettings
from bot.settings.sections import LimitsConfig

BASELINES = ("do-nothing", "sell-all", "one-shot", "hindsight")


class DoNothing:
    name = "do-nothing"

    def bind(self, sim: Sim) -> None:
        return None

    def wake(self) -> Wake:
        return Wake(NEVER)

    def act(self) -> None:
        return None


@dataclass
class SellAllRule:
    """The sell-all sizing, as a ``PlanFn``: withdraw what covers the debt (+3 % for impact),
    at most what leaves HF ≥ ``min_hf_mid`` and 90 % of what the book takes down to the
    executor's floor (an IOC sells no deeper; a batch left half-sold fails its verify and
    the engine turns reduce-only), in whole exchange lots."""

    collateral: str
    debt: str
    lot_units: int
    slippage_bps: int
    trigger_hf: Decimal = Decimal("1.25")
    min_hf_mid: Decimal = Decimal("1.01")
    triggered: bool = False

    def __call__(self, snapshot: Snapshot, context: PlanContext) -> PlanChoice:
        pos = snapshot.position
        if not self.triggered and health_factor_wad(pos) > decimal_to_wad(self.trigger_hf):
            return PlanChoice(None, "above the trigger")
        self.triggered = True
        debt_r, coll_r = pos.reserve(self.debt), pos.reserve(self.collateral)
        if debt_r.debt == 0:
            return PlanChoice(None, "no debt")
        price = Decimal(coll_r.price) / Decimal(debt_r.price)
        needed = to_units(from_units(debt_r.debt, debt_r.decimals) * Decimal("1.03") / price, coll_r.decimals)
        units = min(needed, max_withdraw(pos, self.collateral, min_hf_wad=decimal_to_wad(self.min_hf_mid)))
        book = snapshot.book
        if book is not None and book.mid is not None:
            takes = depth_above(book.bids, floor_price(book.mid, self.slippage_bps)) * Decimal("0.9")
            units = min(units, to_units(takes, coll_r.decimals))
        units -= units % self.lot_units
        if units <= 0:
            return PlanChoice(None, "nothing can leave the pool")
        return PlanChoice(
            BatchSpec(collateral=self.collateral, debt=self.debt, withdraw_amount=units, note="sell-all"), "sell-all"
        )


def _schema_max(field: str) -> int:
    """The largest value the settings schema accepts for a ``[limits]`` key."""
    return next(int(m.le) for m in LimitsConfig.model_fields[field].metadata if hasattr(m, "le"))


def _schema_max_usd(limits: LimitsConfig) -> Decimal:
    return max(limits.max_daily_usd, Decimal(10) ** 15)  # no cap a panic seller would respect


class SellAll(EngineActor):
    def __init__(
        self,
        settings: BacktestSettings,
        *,
        symbol: str,
        collateral: str,
        debt: str,
        lot_units: int,
        wallet: str,
        trigger_hf: Decimal = Decimal("1.25"),
        min_hf_mid: Decimal = Decimal("1.01"),
    ) -> None:
        widest = _schema_max("max_slippage_bps")
        self.rule = SellAllRule(collateral, debt, lot_units, widest, trigger_hf, min_hf_mid)
        panic = LimitsConfig.model_validate(
            {
                **settings.limits.model_dump(),
                "hf_floor": min_hf_mid,
                "price_shock_bps": 0,
                "max_slippage_bps": widest,
                "cooldown_s": 0,
                "max_oracle_divergence_bps": _schema_max("max_oracle_divergence_bps"),
                "max_batch_usd": _schema_max_usd(settings.limits),
                "max_daily_usd": _schema_max_usd(settings.limits),
                "buffer_usd": 0,  # a baseline brings no cash of its own
            }
        )
        engine = simulated_engine(
            settings.model_copy(update={"limits": panic}),
            symbol=symbol,
            collateral=collateral,
            debt=debt,
            wallet=wallet,
        )
        super().__init__("sell-all", engine, lambda venue, dex: self.rule, wake_hf=trigger_hf)

    def wake(self) -> Wake:
        if self.rule.triggered and not self.halted:
            return Wake(None)
        return super().wake()


@dataclass
class OneShot:
    """A DeFi-Saver repay: when HF ≤ trigger, one flash-loan transaction through the simulated
    DEX repays towards the target — as much as the best pool gives within the slippage limit
    (the largest swap that passes it), the automation's service fee taken from the collateral
    withdrawn. A repay the pools cannot price within the limit reverts: nothing happens, no gas.
    Without a DEX (depth 0) it never acts."""

    trigger_hf: Decimal = Decimal("1.25")
    target_hf: Decimal = Decimal("1.5")
    slippage_bps: int = 100
    service_fee_bps: int = 30
    name: str = "one-shot"
    sim: Sim | None = field(default=None, repr=False)
    reverts: int = 0
    sent: int = 0

    def bind(self, sim: Sim) -> None:
        self.sim = sim

    def wake(self) -> Wake:
        return Wake(self.trigger_hf)

    def act(self) -> None:
        assert self.sim is not None
        w, dex = self.sim.world, self.sim.dex
        w.sync()
        pos = w.position
        p = w.pair
        if dex is None or health_factor_wad(pos) > decimal_to_wad(self.trigger_hf):
            return
        limit = Decimal(self.slippage_bps) / Decimal(10_000)
        premium_rate = Decimal(dex.flash_premium_bps) / Decimal(10_000)
        owed = from_units(pos.reserve(p.debt).debt, p.debt_decimals) * (1 + premium_rate)
        fee, best = max(
            ((fee, largest_output_within(dex.pool(fee), limit, at_most=owed)) for fee in dex.fees),
            key=lambda item: item[1],
        )
        within = to_units(best / (1 + premium_rate), p.debt_decimals)
        repay = self._repay_to_target(dex, fee, within)
        swap_units = dex.swap_units(fee, repay)
        if swap_units is None:
            self._revert(w, f"no pool repays the debt within {self.slippage_bps} bps")
            return
        out = from_units(repay + dex.premium(repay), p.debt_decimals)
        price = Decimal(pos.reserve(p.collateral).price) / Decimal(pos.reserve(p.debt).price)
        cap = int((out / price * (1 + limit)).scaleb(p.collateral_decimals).to_integral_value(ROUND_CEILING))
        fee_units = (self._collateral_out(dex, fee, repay) or swap_units) - swap_units
        if not self._improves(swap_units + fee_units, repay):
            self._revert(w, f"a repay of {from_units(repay, p.debt_decimals)} {p.debt} would lower HF")
            return
        self.sent += 1  # a key per transaction: a reverted one is never read back as the next
        key = f"one-shot-{self.sent}:atomic_deleverage"
        result = dex.atomic_deleverage(
            key=key, collateral=p.collateral, debt=p.debt, repay_units=repay, max_collateral_in_units=cap, pool_fee=fee
        )
        if result.outcome is not Outcome.OK:
            self._revert(w, result.error or "reverted")
            return
        # The service fee leaves with the withdrawal (the automation keeps it, the swap never sees it).
        coll_r = w.position.reserve(p.collateral)
        w.position = w.position.with_reserve(p.collateral, collateral=coll_r.collateral - fee_units)
        fee_coins = from_units(fee_units, p.collateral_decimals)
        w.ledger.fees_usd += fee_coins * from_units(w.oracle_base, 8)
        record = w.batch_record(key)
        record.withdrawn += fee_coins
        record.hf_after = w.hf_decimal()
        w.checkpoint()

    def _collateral_out(self, dex: SimDex, fee: int, repay: int) -> int | None:
        """Collateral units leaving the pool for ``repay``: the swap's input and the service fee."""
        swap = dex.swap_units(fee, repay)
        return None if swap is None else swap + swap * self.service_fee_bps // (10_000 - self.service_fee_bps)

    def _repay_to_target(self, dex: SimDex, fee: int, at_most: int) -> int:
        """The smallest repay (≤ ``at_most``) whose sale of collateral brings HF to the target,
        else ``at_most``: HF rises with the repay while the swap costs less than HF / LT − 1."""
        assert self.sim is not None
        w, p = self.sim.world, self.sim.world.pair
        target = decimal_to_wad(self.target_hf)

        def reaches(repay: int) -> bool:
            out = self._collateral_out(dex, fee, repay)
            coll = w.position.reserve(p.collateral).collateral
            if out is None or out > coll:
                return False
            after = w.position.with_reserve(p.collateral, collateral=coll - out)
            after = after.with_reserve(p.debt, debt=max(0, w.position.reserve(p.debt).debt - repay))
            return health_factor_wad(after) >= target

        if at_most <= 0 or not reaches(at_most):
            return max(at_most, 0)
        lo, hi = 0, at_most  # hi reaches the target, lo does not
        while hi - lo > max(1, at_most // 1_000_000):
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
        return hi

    def _revert(self, w: Any, why: str) -> None:
        self.reverts += 1
        w.event(w.now, "batch-reverted", f"one-shot: {why}: reverted")

    def _improves(self, units_out: int, repay: int) -> bool:
        """Automations revert a repay that leaves HF lower than before (or under 1): simulated first."""
        assert self.sim is not None
        w = self.sim.world
        p = w.pair
        pos = w.position
        coll_r = pos.reserve(p.collateral)
        if units_out > coll_r.collateral:
            return False
        after = pos.with_reserve(p.collateral, collateral=coll_r.collateral - units_out)
        after = after.with_reserve(p.debt, debt=max(0, pos.reserve(p.debt).debt - repay))
        return health_factor_wad(after) >= max(WAD, health_factor_wad(pos))


# Survival is checked with the runner's float liquidation search and a margin above its error.
HINDSIGHT_MARGIN = 1e-6
BISECTION_STEPS = 40
SCAN_STEPS = 64
# A sale larger than the book is swept again at the same bar from where the last sweep left
# the mid (the market model's refill gap), at most this many times.
MAX_SWEEPS = 200


def sweep_now(market: Market, bar: int, t: int, qty: Decimal) -> list[tuple[SellFill, Decimal]]:
    """Sell ``qty`` at once: sweeps of the book at ``bar`` until sold or the book is empty."""
    fills = []
    left = qty
    for _ in range(MAX_SWEEPS):
        if left <= 0:
            break
        fill, fee = market.sell(bar, t, left, None)
        if fill.qty <= 0:
            break
        fills.append((fill, fee))
        left -= fill.qty
    return fills


@dataclass
class Hindsight:
    name: str = "hindsight"
    sim: Sim | None = field(default=None, repr=False)
    done: bool = False

    def bind(self, sim: Sim) -> None:
        self.sim = sim

    def wake(self) -> Wake:
        return Wake(NEVER) if self.done else Wake(None)

    def act(self) -> None:
        assert self.sim is not None
        if self.done:  # the runner still calls at a bar that crosses HF 1
            return
        self.done = True
        w = self.sim.world
        w.sync()
        p = w.pair
        qty, through_book = self.least_sale(), True
        if qty is None:  # no sale through the book survives: the frictionless least, at the price now
            qty, through_book = self.least_sale(frictionless=True), False
            w.event(w.now, "hindsight", "no sale through the book survives: the least at the price now, no impact")
        if qty is None or qty <= 0:
            w.event(
                w.now, "hindsight", "no sale at the first bar keeps the position" if qty is None else "no sale needed"
            )
            return
        coll_r = w.position.reserve(p.collateral)
        if w.ledger.arrival_price is None:
            w.ledger.arrival_price = from_units(w.oracle_base, 8)
        batch = w.batch_record("hindsight-1")
        sold = Decimal(0)
        proceeds = 0
        for fill, fee in sweep_now(w.market, w.bar, int(w.now), qty) if through_book else [self._at_price(qty)]:
            record_fill(w, fill.qty, fill.notional, fee, batch)
            sold += fill.qty
            proceeds += to_units(fill.notional - fee, p.debt_decimals)
        sold_units = to_units(sold, coll_r.decimals)
        w.position = w.position.with_reserve(p.collateral, collateral=coll_r.collateral - sold_units)
        paid = min(proceeds, w.debt_now().balance)
        w.debt = w.debt_now().repaid(paid)
        w.position = w.position.with_reserve(p.debt, debt=w.debt.balance)
        w.wallet[p.debt] += proceeds - paid
        w.ledger.debt_repaid_units += paid
        w.ledger.batches.append((int(w.now), sold_units))
        batch.withdrawn += sold
        batch.repaid += from_units(paid, p.debt_decimals)
        batch.hf_after = w.hf_decimal()
        w.event(
            w.now, "batch", f"hindsight sale {sold} {p.collateral}, repay {from_units(paid, p.debt_decimals)} {p.debt}"
        )
        w.checkpoint()

    def _at_price(self, qty: Decimal) -> tuple[SellFill, Decimal]:
        assert self.sim is not None
        w = self.sim.world
        price = from_units(w.oracle_base, 8)
        notional = qty * price
        return SellFill(qty, notional, price), notional * w.market.p.taker_fee_bps / Decimal(10_000)

    def least_sale(self, *, frictionless: bool = False) -> Decimal | None:
        """The least quantity (in exchange lots) whose sale now keeps every later bar's low
        above the liquidation price; None if no sale does. ``frictionless``: sold at the price
        now with no impact (a yardstick for a position no book can take at once)."""
        assert self.sim is not None
        w = self.sim.world
        p = w.pair
        pos = w.position
        coll_r, debt_r = pos.reserve(p.collateral), pos.reserve(p.debt)
        lt = coll_r.liquidation_threshold_bps / 10_000
        debt_price = float(from_units(debt_r.price, 8))
        floor = self._lowest_discounted(w.debt.rate_ray / 1e27 / SECONDS_PER_YEAR)
        held = from_units(coll_r.collateral, coll_r.decimals)
        debt = from_units(w.debt_now().balance, p.debt_decimals)

        def survives(qty: Decimal) -> bool:
            if frictionless:
                fills = [self._at_price(qty)]
            else:  # on a copy: nothing is sold yet
                fills = sweep_now(copy.copy(w.market), w.bar, int(w.now), qty)
            net = sum((fill.notional - fee for fill, fee in fills), Decimal(0))
            left = float(held - sum((fill.qty for fill, _ in fills), Decimal(0)))
            owed = float(max(Decimal(0), debt - net)) * debt_price
            if owed <= 0:
                return True
            return left > 0 and owed * (1 + HINDSIGHT_MARGIN) / (left * lt) <= floor

        if survives(Decimal(0)):
            return Decimal(0)
        # Selling more can stop helping (a sale deep into a thin book repays less than the
        # collateral it takes away): find the first surviving step of a grid, then bisect.
        grid = [held * k / SCAN_STEPS for k in range(1, SCAN_STEPS + 1)]
        first = next((k for k, qty in enumerate(grid) if survives(qty)), None)
        if first is None:
            return None
        lo, hi = (grid[first - 1] if first else Decimal(0)), grid[first]
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            if survives(mid):
                hi = mid
            else:
                lo = mid
        step = self.sim.venue.rules(p.symbol).step_size
        return min(hi.quantize(step, rounding=ROUND_CEILING), held)

    def _lowest_discounted(self, growth_per_s: float) -> float:
        """min over the bars from now of low · e^(−r·Δt): the debt grows at r, so a later low
        counts as that much lower against today's debt."""
        assert self.sim is not None
        w = self.sim.world
        c = w.c
        j, t0 = w.bar, float(w.now)
        lows = c.low[j:] * np.exp(-growth_per_s * np.maximum(0.0, c.timestamp[j:] - t0))
        return float(lows.min()) if lows.shape[0] else math.inf
