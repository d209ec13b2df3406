"""The backtest event loop: jump between events with numpy, act at events with exact integers.

**Speed.** Nothing can happen between events, so the loop never visits quiet bars one by one.
With WETH collateral q, debt D(t) = D·exp(r·Δt/Y) (the float mirror of the borrow index; it
slightly overstates the binomial index, so it errs early) and LT L, the liquidation price is
``D(t)/(q·L)`` and the price at which a decider may act is that times its wake health factor
(``wake_health_factor``: the threshold policy's trigger, a ladder's highest rung; 0 = never
wakes, None = look at every bar). The next event is the first bar whose low crosses
``max(1, wake) · D(t)/(q·L)`` (inflated by 1e-7 so float error can only make an event early)
or a transfer landing; ``np.argmax`` over a boolean mask finds it, in growing chunks. At an
event the exact integer position is rebuilt, the liquidator and the decider act, and the
search resumes. The minimum HF over skipped bars comes from the same vectorised pass.

**Within an event bar** (conservative ordering): the oracle visits the bar's low first and a
liquidator takes whatever HF < 1 allows; then transfers due in the bar land (deposits are
credited, USDT repays); ETH on the exchange is offered as IOC sells at the bar's price; then,
if nothing is in flight, the decider sees a snapshot priced where the path crossed its wake
price (the open if it gapped below, never under the low) and may start a batch — the withdraw
happens now, the sale when the deposit is credited, the repay when the USDT lands — and the
liquidation check at the low is repeated on the new position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from bot.backtest.adapters import (
    BASE_COIN,
    COLL,
    DEBT,
    QUOTE_COIN,
    WALLET_ADDRESS,
    SimClock,
    SimLending,
    SimVenue,
    SimWorld,
    record_fill,
)
from bot.backtest.data import Candles
from bot.backtest.lending import (
    SECONDS_PER_YEAR,
    DebtBook,
    apr_to_ray,
    debt_for_health_factor,
    weth_usdt_position,
)
from bot.backtest.market import Market, MarketParams
from bot.domain.book import floor_price, round_down_to_step, walk_bids
from bot.domain.position import Position, Rounding, from_units, health_factor_wad, to_units
from bot.domain.snapshot import Snapshot
from bot.domain.wadray import MAX_UINT256, WAD

EPS = 1e-7
HISTORY_S = 7 * 86_400
NEVER = Decimal(0)


@dataclass(frozen=True)
class BatchOrder:
    """One batch for the runner to execute through the simulated adapters."""

    withdraw_units: int
    max_slippage_bps: int | None  # IOC floor below the best bid at sale time; None = uncapped
    atomic: bool = False  # a flash-loan swap-and-repay in one transaction (DeFi automations)
    atomic_fee_bps: int = 0


class Decider(Protocol):
    name: str

    def wake_health_factor(self) -> Decimal | None: ...

    def next_batch(self, snapshot: Snapshot, venue: SimVenue) -> BatchOrder | None: ...


@dataclass(frozen=True)
class SimParams:
    borrow_apr: Decimal = Decimal("0.05")
    deposit_delay_s: int = 300  # withdraw + transfer txs, exchange confirmations (Binance: 6 blocks), crediting
    withdrawal_delay_s: int = 600  # exchange USDT withdrawal processing + confirmation
    max_sell_wait_s: int = 86_400
    protocol_fee_bps: int = 1_000
    liquidation_threshold_bps: int = 8_300
    liquidation_bonus_bps: int = 10_500
    rounding: Rounding = Rounding.V3_5


@dataclass
class Checkpoint:
    bar: int  # state holds from this bar on (until the next checkpoint)
    t: int
    coll_units: int
    debt_units: int
    off_pool_eth: float  # ETH in the wallet, in transit or on the exchange
    off_pool_usd: float  # USDT in the wallet, in transit or on the exchange


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


def to_base(price: float) -> int:
    return int(round(price * 1e8))


class Runner:
    def __init__(self, candles: Candles, decider: Decider, *, collateral: Decimal, start_hf: Decimal,
                 market: MarketParams, sim: SimParams, position: Position | None = None, jump: bool = True) -> None:
        if len(candles) == 0:
            raise ValueError("no candles")
        self.c = candles
        self.decider = decider
        self.sim = sim
        self.jump = jump
        t0 = int(candles.timestamp[0])
        p0 = to_base(float(candles.open[0]))
        if position is None:
            coll = to_units(collateral, 18)
            debt = debt_for_health_factor(collateral_units=coll, price_base=p0,
                                          lt_bps=sim.liquidation_threshold_bps, hf=start_hf)
            position = weth_usdt_position(collateral_units=coll, debt_units=debt, weth_price_base=p0,
                                          liquidation_threshold_bps=sim.liquidation_threshold_bps,
                                          liquidation_bonus_bps=sim.liquidation_bonus_bps, rounding=sim.rounding)
        else:
            position = position.with_prices({COLL: p0})
        debt_book = DebtBook.opened(position.reserve(DEBT).debt, rate_ray=apr_to_ray(sim.borrow_apr), at=t0)
        self.world = SimWorld(position=position, debt=debt_book, market=Market(candles, market),
                              deposit_delay_s=sim.deposit_delay_s, withdrawal_delay_s=sim.withdrawal_delay_s,
                              gas_gwei=market.gas_gwei, protocol_fee_bps=sim.protocol_fee_bps)
        self.world.set_time(0, t0, p0)
        self.lending = SimLending(self.world)
        self.venue = SimVenue(self.world)
        self.clock = SimClock(self.world)
        self.result = RunResult(decider.name, candles, self.world, self.world.position, debt_book, math.inf)
        self._rate = float(sim.borrow_apr)
        self._lt = sim.liquidation_threshold_bps / 10_000
        self._interval = candles.interval_s
        self._sell_cap: int | None = None
        self._batch_no = 0
        self._sell_started = 0
        self._closes: dict[int, Decimal] = {}
        self._gate_price: float | None = None

    # -- vectorised search ------------------------------------------------------------------
    def _liq_price_now(self) -> tuple[float, float]:
        """(float liquidation price at the current time, current time) of the pool position."""
        w = self.world
        q = w.position.reserve(COLL).collateral / 1e18
        d = w.debt.balance / 1e6
        if d <= 0:
            return 0.0, float(w.now)
        if q <= 0:
            return math.inf, float(w.now)
        return d / (q * self._lt), float(w.now)

    def _first_cross(self, start: int, stop: int, multiple: float, gate: Any = None) -> int:
        """First bar in [start, stop) whose low ≤ multiple · P_liq(t) (or the decider's wake
        price from ``gate``); ``stop`` if none. Also folds the skipped bars into the minimum HF."""
        self._gate_price = None
        if start >= stop:
            return stop
        p_liq, t_now = self._liq_price_now()
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
                wake = np.maximum(liq, gate(pos, end, liq))
                hit = lows[pos:end] <= wake
            else:
                hit = ratio <= multiple
            if hit.any():
                j = int(np.argmax(hit))
                if j:
                    self._fold_min(float(np.min(ratio[:j])) * (1.0 + EPS))
                if gate is not None:
                    self._gate_price = float(wake[j])
                return pos + j
            self._fold_min(float(np.min(ratio)) * (1.0 + EPS))
            if gate is not None:
                self._gate_price = float(wake[-1])  # read only when the bar is visited anyway
            pos, chunk = end, min(chunk * 4, 1 << 20)
        return stop

    def _fold_min(self, hf: float) -> None:
        if hf < self.result.min_hf:
            self.result.min_hf = hf

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> RunResult:
        n = len(self.c)
        ts = self.c.timestamp
        self._checkpoint(0)
        i = 0
        while i < n:
            w = self.world
            if w.debt.balance == 0 and not w.busy:
                break
            self._gate_price = None
            stop = n if self.jump else i + 1  # without jumping every bar is visited (tests)
            if w.busy:
                if w.exchange[BASE_COIN] >= SimVenue.RULES.min_qty:
                    j = i
                else:
                    pending = [tr.arrives_at for tr in w.transfers.values() if not tr.done]
                    arrival_bar = int(np.searchsorted(ts, min(pending), side="right")) - 1 if pending else n
                    j = self._first_cross(i, max(i, min(stop, arrival_bar)), 1.0)
                    j = min(j, max(i, arrival_bar))
            else:
                gate = getattr(self.decider, "wake_prices", None)
                wake = self.decider.wake_health_factor()
                if gate is not None:
                    j = self._first_cross(i, stop, 1.0, gate=lambda a, b, liq: gate(self.c, a, b, liq))
                else:
                    j = i if wake is None else self._first_cross(i, stop, max(1.0, float(wake)))
            if not self.jump:
                j = i
            if j >= n:
                break
            self._bar(j)
            i = j + 1
        self.result.bars_simulated = n
        return self.result

    def _bar(self, j: int) -> None:
        w = self.world
        c = self.c
        t = int(c.timestamp[j])
        low = to_base(float(c.low[j]))
        w.set_time(j, t, low)
        self._fold_min_exact()
        self._liquidate(j)
        # Transfers landing within this bar.
        for tr in w.due(t + self._interval):
            w.set_time(j, max(t, tr.arrives_at), low)
            w.land(tr)
            if not tr.to_exchange:
                self._repay_idle(f"repay-{tr.key}")
            self._event(tr.arrives_at, "deposit" if tr.to_exchange else "usdt-arrived", f"{tr.amount} {tr.coin}")
        if w.exchange[BASE_COIN] >= SimVenue.RULES.min_qty:
            self._sell_on_exchange(j)
        if not w.busy and w.debt.balance > 0:
            if self._gate_price is not None:  # where the path crossed the decider's wake price
                price = max(low, min(to_base(float(c.open[j])), to_base(self._gate_price)))
            else:
                price = self._decision_price(j, self.decider.wake_health_factor())
            w.set_time(j, t, price)
            w.market.override_mid = price / 1e8  # the exchange trades where the oracle is now
            try:
                order = self.decider.next_batch(self._snapshot(j), self.venue)
                if order is not None:
                    self._start(j, order)
            finally:
                w.market.override_mid = None
            if order is not None:
                w.set_time(j, t, low)
                self._liquidate(j)
        w.set_time(j, t, low)
        self._fold_min_exact()
        self._checkpoint(j)

    def _decision_price(self, j: int, wake: Decimal | None) -> int:
        c = self.c
        low, open_ = to_base(float(c.low[j])), to_base(float(c.open[j]))
        if wake is None or wake <= 0:
            return to_base(float(c.close[j]))
        w = self.world
        pos = w.position
        # Largest price at which HF ≤ wake, from the exact position.
        r = pos.reserve(COLL)
        debt_base = w.debt.balance * 10**8 // 10**6
        denom = r.collateral * r.liquidation_threshold_bps
        if denom == 0:
            return max(low, open_)
        crossing = int(Decimal(debt_base) * wake * 10**4 * 10**18 / denom)
        wake_wad = int(wake * WAD)
        for _ in range(16):  # strictly below the wake HF ("HF < trigger" policies act there)
            if health_factor_wad(pos.with_prices({COLL: crossing})) < wake_wad:
                break
            crossing -= max(1, crossing // 10**9)
        return max(low, min(open_, crossing))

    def _snapshot(self, j: int) -> Snapshot:
        snap = self.lending.snapshot()
        return Snapshot(snap.position, snap.block, snap.timestamp, snap.chain_id, snap.wallet,
                        snap.wallet_balances, self.venue.balances(), self.venue.order_book("ETH/USDT"),
                        self._history(j))

    def _history(self, j: int) -> tuple[tuple[int, Decimal], ...]:
        """Recent closes as the daemon keeps them: hourly points over 7 days, every bar of the last hour."""
        ts = self.c.timestamp
        t = int(ts[j])
        lo = int(np.searchsorted(ts, t - HISTORY_S, side="left"))
        recent = int(np.searchsorted(ts, t - 3_600, side="left"))
        hourly = [k for k in range(lo, recent, max(1, 3_600 // self._interval))]
        # Completed bars only: the decision is taken inside bar j, before its close.
        return tuple((int(ts[k]), self._close_dec(k)) for k in (*hourly, *range(recent, j)))

    def _close_dec(self, k: int) -> Decimal:
        value = self._closes.get(k)
        if value is None:
            value = self._closes[k] = Decimal(repr(float(self.c.close[k])))
        return value

    def _liquidate(self, j: int) -> None:
        w = self.world
        before = len(w.ledger.liquidations)
        if w.liquidate_while_unhealthy():
            for t, res in w.ledger.liquidations[before:]:
                self._event(t, "liquidation", f"repaid {from_units(res.debt_repaid, 6)} USDT, seized "
                                              f"{from_units(res.collateral_seized, 18)} WETH, close factor {res.close_factor_bps}")
            self._fold_min_exact(res_hf=min(r.hf_before_wad for _, r in w.ledger.liquidations[before:]))

    def _fold_min_exact(self, res_hf: int | None = None) -> None:
        hf = res_hf if res_hf is not None else health_factor_wad(self.world.position)
        if hf != MAX_UINT256:
            self._fold_min(hf / 1e18)

    def _repay_idle(self, key: str) -> None:
        w = self.world
        if w.wallet[DEBT] > 0 and w.debt.balance > 0:
            self.lending.repay(key=key, symbol=DEBT, amount=MAX_UINT256)

    def _start(self, j: int, order: BatchOrder) -> None:
        w = self.world
        self._batch_no += 1
        key = f"b{self._batch_no}"
        if w.ledger.arrival_price is None:
            w.ledger.arrival_price = from_units(w.oracle_base, 8)
        self._repay_idle(f"{key}-repay-idle")
        units = min(order.withdraw_units, w.position.reserve(COLL).collateral)
        if units <= 0:
            return
        if order.atomic:
            self._atomic(j, key, units, order.atomic_fee_bps)
            return
        res = self.lending.withdraw(key=f"{key}-withdraw", symbol=COLL, amount=units)
        if res.outcome.value != "OK":
            self._event(w.now, "withdraw-refused", res.error or "")
            return
        self.lending.transfer(key=f"{key}-deposit", symbol=COLL, to=self.venue.deposit_address(BASE_COIN, "ERC20"),
                              amount=units)
        self._sell_cap = order.max_slippage_bps
        self._sell_started = w.now
        self._event(w.now, "batch", f"withdraw {from_units(units, 18)} WETH at {from_units(w.oracle_base, 8)}")

    def _atomic(self, j: int, key: str, units: int, fee_bps: int) -> None:
        """Flash-loan repay: swap collateral on a DEX and repay in one transaction (no HF dip)."""
        w = self.world
        qty = from_units(units, 18)
        if not self._atomic_improves(j, qty, fee_bps):  # simulated before sending: no gas spent
            self._event(w.now, "batch-reverted", f"one-shot swap of {qty} WETH would lower HF: reverted")
            return
        fill, fee = w.market.sweep(j, w.now, qty, fee_bps=fee_bps)
        sold_units = to_units(fill.qty, 18)
        proceeds = to_units(fill.notional - fee, 6)
        w.position = w.position.with_reserve(COLL, collateral=w.position.reserve(COLL).collateral - sold_units)
        repay = min(proceeds, w.debt.balance)
        w.debt = w.debt.repaid(repay)
        w.position = w.position.with_reserve(DEBT, debt=w.debt.balance)
        w.wallet[DEBT] += proceeds - repay
        w.ledger.debt_repaid_units += repay
        w.pay_gas("flashloan_repay")
        w.ledger.batches.append((w.now, sold_units))
        record_fill(w, fill.qty, fill.notional, fee)
        self._event(w.now, "batch", f"one-shot swap {fill.qty} WETH, repay {from_units(repay, 6)} USDT")

    def _atomic_improves(self, j: int, qty: Decimal, fee_bps: int) -> bool:
        """Automations revert a repay that leaves HF lower than before (or under 1): quote first."""
        w = self.world
        book = w.market.order_book(j, w.now)
        fill = walk_bids(book.bids, qty)
        proceeds = to_units(fill.notional * (1 - Decimal(fee_bps) / Decimal(10_000)), 6)
        pos = w.position
        after = pos.with_reserve(COLL, collateral=pos.reserve(COLL).collateral - to_units(fill.qty, 18))
        after = after.with_reserve(DEBT, debt=max(0, pos.reserve(DEBT).debt - proceeds))
        hf_after = health_factor_wad(after)
        return hf_after >= max(WAD, health_factor_wad(pos))

    def _sell_on_exchange(self, j: int) -> None:
        w = self.world
        rules = self.venue.rules("ETH/USDT")
        qty = round_down_to_step(w.exchange[BASE_COIN], rules.step_size)
        if qty < rules.min_qty:
            return
        if w.now - self._sell_started > self.sim.max_sell_wait_s:
            w.strand(qty)  # give up: it stays on the exchange, valued in equity, no longer retried
            self._event(w.now, "sell-abandoned", f"{qty} ETH left unsold on the exchange")
            return
        book = self.venue.order_book("ETH/USDT")
        floor = None
        if self._sell_cap is not None and book.best_bid is not None:
            floor = floor_price(book.best_bid, self._sell_cap, rules.tick_size)
        res = self.venue.sell(key=f"b{self._batch_no}-sell-{j}", symbol="ETH/USDT", qty=qty, floor_price=floor)
        if res.filled > 0:
            self._event(w.now, "sell", f"{res.filled} ETH at {res.avg_price.quantize(Decimal('0.01'))}")
        usdt = w.exchange[QUOTE_COIN].quantize(Decimal("0.000001"))
        if usdt > 0:
            self.venue.withdraw(key=f"b{self._batch_no}-wd-{j}", coin=QUOTE_COIN, amount=usdt,
                                address=WALLET_ADDRESS, network="ERC20")

    # -- records ----------------------------------------------------------------------------
    def _event(self, t: int, kind: str, detail: str) -> None:
        self.result.events.append((int(t), kind, detail))

    def _checkpoint(self, j: int) -> None:
        w = self.world
        eth = w.wallet[COLL] / 1e18 + float(w.exchange[BASE_COIN] + w.stranded)
        usd = w.wallet[DEBT] / 1e6 + float(w.exchange[QUOTE_COIN])
        for tr in w.transfers.values():
            if not tr.done:
                if tr.coin == BASE_COIN:
                    eth += float(tr.amount)
                else:
                    usd += float(tr.amount)
        cp = Checkpoint(j, w.now, w.position.reserve(COLL).collateral, w.debt.balance, eth, usd)
        if self.result.checkpoints and self.result.checkpoints[-1].bar == j:
            self.result.checkpoints[-1] = cp
        else:
            self.result.checkpoints.append(cp)


def run_backtest(candles: Candles, decider: Decider, *, collateral: Decimal, start_hf: Decimal,
                 market: MarketParams | None = None, sim: SimParams | None = None,
                 position: Position | None = None) -> RunResult:
    return Runner(candles, decider, collateral=collateral, start_hf=start_hf, market=market or MarketParams(),
                  sim=sim or SimParams(), position=position).run()
