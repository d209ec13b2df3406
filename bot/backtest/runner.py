"""The backtest event loop: numpy decides *when* something can happen, the actor (the daemon's
own controller and executor, or a baseline) decides *how*.

**Speed.** Nothing can happen between events, so the loop never visits quiet bars one by one.
With collateral q, debt D(t) = D·exp(r·Δt/Y) (the float mirror of the borrow index; it
slightly overstates the binomial index, so it errs early) and LT L, the liquidation price is
``D(t)/(q·L)`` and the price at which an actor may act is that times its wake health factor
(``Wake.hf``: a policy's declared ``wake_hf``; 0 = never wakes, None = every bar) or a
per-bar wake price (``Wake.gate``: a policy's declared drawdown gate). The next event is the
first bar whose low crosses ``max(1, wake) · D(t)/(q·L)`` (inflated by 1e-7 so float error
can only make an event early) or a transfer landing; ``np.argmax`` over a boolean mask finds
it, in growing chunks. Bars before ``Wake.not_before`` (the controller's cooldown) are
searched for liquidations only. The minimum HF over skipped bars comes from the same pass.

**At an event bar** the world enters the bar at the price where the path crossed the wake
price (the open if it gapped below, never under the low), the actor acts — the controller's
tick runs a whole batch, its executor's polls moving the simulated clock through the
following bars (``adapters.SimClock``) — and the bar the clock stops in is finished (its low
visited) before the search resumes after it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import numpy as np

from bot.backtest.adapters import (
    Checkpoint,
    SimClock,
    SimLending,
    SimVenue,
    SimWorld,
    to_base,
)
from bot.backtest.data import Candles
from bot.backtest.dex import DexParams, SimDex
from bot.backtest.lending import SECONDS_PER_YEAR, DebtBook, apr_to_ray, debt_for_health_factor
from bot.backtest.market import Market, MarketParams
from bot.backtest.pair import ETH_USDT, Pair
from bot.domain.position import Position, Rounding, health_factor_wad, to_units
from bot.domain.wadray import WAD
from bot.settings.simulation import SimulationConfig

EPS = 1e-7
NEVER = Decimal(0)

# Per-bar wake prices for bars [start, end) given the float liquidation prices there.
GateFn = Callable[[Candles, int, int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Wake:
    """When the actor may act: below ``hf`` (None: at every bar; 0: never), or where the low
    crosses ``gate``'s price; never before ``not_before`` (UNIX seconds)."""

    hf: Decimal | None
    gate: GateFn | None = None
    not_before: float = 0.0


@dataclass(frozen=True)
class Sim:
    """What the runner hands an actor: the simulated world behind the engine's ports."""

    world: SimWorld
    lending: SimLending
    venue: SimVenue
    clock: SimClock
    dex: SimDex | None = None  # the DEX route (None: no pools in this run)


class Actor(Protocol):
    name: str

    def bind(self, sim: Sim) -> None: ...

    def wake(self) -> Wake: ...

    def act(self) -> None: ...


_SIM = SimulationConfig()  # defaults and bounds live in the settings schema


@dataclass(frozen=True)
class SimParams:
    """The simulated chain's typed params (see ``bot.settings.simulation.SimulationConfig``)."""

    borrow_apr: Decimal = _SIM.borrow_apr
    deposit_delay_s: int = _SIM.deposit_delay_s  # withdraw + transfer txs, confirmations, crediting
    withdrawal_delay_s: int = _SIM.withdrawal_delay_s  # exchange quote withdrawal processing + confirmation
    protocol_fee_bps: int = _SIM.protocol_fee_bps
    liquidation_threshold_bps: int | None = _SIM.liquidation_threshold_bps  # None: the reserve's own
    liquidation_bonus_bps: int | None = _SIM.liquidation_bonus_bps
    rounding: Rounding = Rounding(_SIM.rounding)
    position_batch_share: Decimal = _SIM.position_batch_share  # max_batch_usd when none is given
    position_daily_share: Decimal = _SIM.position_daily_share  # max_daily_usd when none is given

    @classmethod
    def from_config(cls, config: SimulationConfig) -> SimParams:
        return cls(**{**config.model_dump(), "rounding": Rounding(config.rounding)})


@dataclass
class RunResult:
    name: str
    candles: Candles
    world: SimWorld
    start_position: Position
    start_debt: DebtBook
    min_hf: float
    checkpoints: list[Checkpoint] = field(default_factory=list)
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (t, kind, detail)
    bars_simulated: int = 0


def opening_position(
    candles: Candles, *, collateral: Decimal, start_hf: Decimal, sim: SimParams, pair: Pair
) -> Position:
    """``collateral`` coins at the first open with the debt that makes HF ``start_hf``."""
    p0 = to_base(float(candles.open[0]))
    coll = to_units(collateral, pair.collateral_decimals)
    lt = sim.liquidation_threshold_bps or pair.collateral_params.liquidation_threshold_bps
    debt = debt_for_health_factor(
        collateral_units=coll,
        price_base=p0,
        lt_bps=lt,
        hf=start_hf,
        collateral_decimals=pair.collateral_decimals,
        debt_decimals=pair.debt_decimals,
    )
    return pair.position(
        collateral_units=coll,
        debt_units=debt,
        price_base=p0,
        rounding=sim.rounding,
        liquidation_threshold_bps=sim.liquidation_threshold_bps,
        liquidation_bonus_bps=sim.liquidation_bonus_bps,
    )


class Runner:
    def __init__(
        self,
        candles: Candles,
        actor: Actor,
        *,
        collateral: Decimal,
        start_hf: Decimal,
        market: MarketParams,
        sim: SimParams,
        position: Position | None = None,
        jump: bool = True,
        pair: Pair = ETH_USDT,
        dex: DexParams | None = None,
        price_history: bool = True,
    ) -> None:
        if len(candles) == 0:
            raise ValueError("no candles")
        self.c = candles
        self.actor = actor
        self.sim = sim
        self.jump = jump
        self.pair = pair
        t0 = int(candles.timestamp[0])
        p0 = to_base(float(candles.open[0]))
        if position is None:
            position = opening_position(candles, collateral=collateral, start_hf=start_hf, sim=sim, pair=pair)
        else:
            position = position.with_prices({pair.collateral: p0})
        debt_book = DebtBook.opened(position.reserve(pair.debt).debt, rate_ray=apr_to_ray(sim.borrow_apr), at=t0)
        self.world = SimWorld(
            position=position,
            debt=debt_book,
            market=Market(candles, market),
            deposit_delay_s=sim.deposit_delay_s,
            withdrawal_delay_s=sim.withdrawal_delay_s,
            gas_gwei=market.gas_gwei,
            protocol_fee_bps=sim.protocol_fee_bps,
            pair=pair,
            price_history=price_history,
        )
        self.world.enter_bar(0)
        simulated_dex = (dex or DexParams()).build(self.world)
        self.sim_ports = Sim(
            self.world, SimLending(self.world), SimVenue(self.world), SimClock(self.world), simulated_dex
        )
        actor.bind(self.sim_ports)
        self.start_position = self.world.position
        self.start_debt = debt_book
        self._rate = float(sim.borrow_apr)
        coll_r = position.reserve(pair.collateral)
        self._lt = coll_r.liquidation_threshold_bps / 10_000
        self._coll_unit = float(10**pair.collateral_decimals)
        self._debt_unit = float(10**pair.debt_decimals)
        self._gate_price: float | None = None

    # -- vectorised search ------------------------------------------------------------------
    def _liq_price_now(self) -> float:
        """Float liquidation price of the pool position at the world's time."""
        w = self.world
        q = w.position.reserve(self.pair.collateral).collateral / self._coll_unit
        d = w.debt.balance / self._debt_unit
        if d <= 0:
            return 0.0
        if q <= 0:
            return math.inf
        return d / (q * self._lt)

    def _first_cross(self, start: int, stop: int, multiple: float, gate: GateFn | None = None) -> int:
        """First bar in [start, stop) whose low ≤ multiple · P_liq(t) (or the gate's wake
        price); ``stop`` if none. Also folds the skipped bars into the minimum HF."""
        self._gate_price = None
        if start >= stop:
            return stop
        p_liq, t_now = self._liq_price_now(), float(self.world.debt.updated_at)
        if p_liq <= 0:
            return stop
        if math.isinf(p_liq):
            return start
        k = p_liq * (1.0 + EPS)
        lows, ts = self.c.low, self.c.timestamp
        growth = self._rate / SECONDS_PER_YEAR
        pos, chunk = start, 4_096
        while pos < stop:
            end = min(stop, pos + chunk)
            liq = k * np.exp(growth * (ts[pos:end] - t_now))
            ratio = lows[pos:end] / liq  # = HF at the low (×1/(1+EPS))
            if gate is not None:
                wake = np.maximum(liq, gate(self.c, pos, end, liq))
                hit = lows[pos:end] <= wake
            else:
                hit = ratio <= multiple
            if hit.any():
                j = int(np.argmax(hit))
                if j:
                    self.world.fold_min_hf(float(np.min(ratio[:j])) * (1.0 + EPS))
                if gate is not None:
                    self._gate_price = float(wake[j])
                return pos + j
            self.world.fold_min_hf(float(np.min(ratio)) * (1.0 + EPS))
            pos, chunk = end, min(chunk * 4, 1 << 20)
        return stop

    def _wake_search(self, start: int, stop: int, wake: Wake) -> int:
        if wake.hf is None:
            return start
        if wake.gate is not None:
            return self._first_cross(start, stop, 1.0, gate=wake.gate)
        return self._first_cross(start, stop, max(1.0, float(wake.hf)))

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> RunResult:
        n = len(self.c)
        ts = self.c.timestamp
        w = self.world
        w.checkpoint()
        i = 0
        while i < n:
            if w.debt.balance == 0 and not w.in_transit:
                break
            wake = self.actor.wake()
            landing = w.next_landing()
            # A transfer in flight between events (a batch stopped mid-way) lands in its bar.
            hard = n if landing is None else max(i, int(np.searchsorted(ts, landing.arrives_at, side="right")) - 1)
            cool = i if wake.not_before <= ts[i] else max(i, int(np.searchsorted(ts, wake.not_before, side="left")))
            self._gate_price = None
            if not self.jump:
                j = i
                if j >= cool:
                    self._wake_search(j, j + 1, wake)  # sets the gate's price at this bar, if any
            else:
                quiet_end = min(hard, cool)
                j = self._first_cross(i, quiet_end, 1.0)  # liquidations only before the cooldown ends
                if j >= quiet_end and quiet_end == cool and cool < hard:
                    j = self._wake_search(cool, min(hard, n), wake)
            if j >= n:
                break
            may_act = ts[j] >= wake.not_before
            w.enter_bar(j)
            if may_act:
                w.set_price(self._decision_price(j, wake))
                w.fold_exact_hf()
                self.actor.act()
            self._finish_bar()
            i = w.bar + 1
        return RunResult(
            self.actor.name, self.c, w, self.start_position, self.start_debt, w.min_hf, w.checkpoints, w.events, n
        )

    def _finish_bar(self) -> None:
        """Visit the current bar's low and land what arrives before the next bar opens."""
        w = self.world
        w.visit_low()
        k = w.bar
        if k + 1 < len(self.c):
            w.advance_to(float(self.c.timestamp[k + 1]) - 1e-6, stop_at_landing=False)
        w.checkpoint()

    def _decision_price(self, j: int, wake: Wake) -> int:
        """Where the path crossed the actor's wake price in bar j (the open if it gapped below,
        never under the low); the open when the actor looks at every bar."""
        c = self.c
        low, open_ = to_base(float(c.low[j])), to_base(float(c.open[j]))
        if self._gate_price is not None:
            return max(low, min(open_, to_base(self._gate_price)))
        hf = wake.hf
        if hf is None or hf <= 0:
            return open_
        w = self.world
        pos = w.position
        r = pos.reserve(self.pair.collateral)
        debt_base = pos.reserve(self.pair.debt).debt * 10**8 // 10**self.pair.debt_decimals
        denom = r.collateral * r.liquidation_threshold_bps
        if denom == 0:
            return open_
        # Largest price at which HF ≤ wake, from the exact position.
        crossing = int(Decimal(debt_base) * hf * 10**4 * 10**r.decimals / denom)
        wake_wad = int(hf * WAD)
        for _ in range(16):  # strictly below the wake HF ("HF < trigger" policies act there)
            if health_factor_wad(pos.with_prices({self.pair.collateral: crossing})) < wake_wad:
                break
            crossing -= max(1, crossing // 10**9)
        return max(low, min(open_, crossing))


def run_backtest(
    candles: Candles,
    actor: Actor,
    *,
    collateral: Decimal,
    start_hf: Decimal,
    market: MarketParams | None = None,
    sim: SimParams | None = None,
    position: Position | None = None,
    pair: Pair = ETH_USDT,
) -> RunResult:
    return Runner(
        candles,
        actor,
        collateral=collateral,
        start_hf=start_hf,
        market=market or MarketParams(),
        sim=sim or SimParams(),
        position=position,
        pair=pair,
    ).run()
