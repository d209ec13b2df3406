"""Simulated adapters behind the engine's ports (``bot.ports``): ``SimLending`` (the Aave pool
and the wallet), ``SimVenue`` (the exchange) and ``SimClock``, sharing one ``SimWorld``.

They hold exact state (int base units on chain, Decimal on the exchange) and move it only
when called through the port methods, so the code driving them is the engine's own executor.

**Time** is the world's and moves only through the clock: ``SimClock.sleep(s)`` advances it
through the candles. Within bar k (open time t_k) the order is: the bar opens at its open
price (or where the runner says the path crossed a wake price) → transfers due at or before
t_k land → the bar's low, where a liquidator takes whatever HF < 1 allows → the price settles
at the bar's ``MarketParams.sell_price`` (close by default) → transfers due later in the bar
land. A sleep returns early when a transfer lands, as a poll would see it, so the executor's
repay of a transfer landing at a bar's open acts before that bar's low. Interest accrues on
the borrow index at every read.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from bot.backtest.lending import DebtBook, LiquidationResult, liquidate_max
from bot.backtest.market import Market, gas_usd
from bot.backtest.pair import ETH_USDT, Pair
from bot.backtest.transit import TransitWatch
from bot.domain.book import OrderBook
from bot.domain.position import Position, from_units, health_factor_wad, to_units
from bot.domain.snapshot import Snapshot
from bot.domain.wadray import MAX_UINT256, WAD
from bot.ports import MarketRules, Outcome, SellResult, Transfer, TransferState, TxResult

EXCHANGE_ADDRESS = "0x000000000000000000000000000000000000b1a5"
WALLET_ADDRESS = "0x000000000000000000000000000000000000a11e"
HISTORY_S = 7 * 86_400
NATIVE = "native"  # the wallet's unwrapped collateral coin (ETH after unwrapping WETH)


@dataclass
class PendingTransfer:
    key: str
    coin: str
    amount: Decimal
    arrives_at: int
    to_exchange: bool
    done: bool = False
    fee: Decimal = Decimal(0)  # kept by the exchange: ``amount - fee`` lands


@dataclass
class BatchRecord:
    """One batch as a user reads it: when, what left the pool, what it sold for, what it repaid,
    and the health factor before and after (None: no debt)."""

    batch_id: str
    t: int
    decision_price: Decimal  # the oracle when the batch was decided (its withdrawal, or its first sale)
    hf_before: Decimal | None
    withdrawn: Decimal = Decimal(0)  # collateral coins taken out of the pool
    sold: Decimal = Decimal(0)
    proceeds: Decimal = Decimal(0)  # gross quote of the sales
    repaid: Decimal = Decimal(0)  # debt coins
    hf_after: Decimal | None = None


@dataclass
class Ledger:
    """Running totals the metrics read."""

    collateral_sold: Decimal = Decimal(0)
    gross_quote: Decimal = Decimal(0)
    fees_usd: Decimal = Decimal(0)
    gas_usd: Decimal = Decimal(0)
    debt_repaid_units: int = 0
    arrival_price: Decimal | None = None
    shortfall_usd: Decimal = Decimal(0)  # Σ q_k (arrival − fill_k), fees added by the metrics
    execution_cost_usd: Decimal = Decimal(0)  # Σ q_k (market price at the sale − fill_k)
    transit_drift_usd: Decimal = Decimal(0)  # Σ q_k (decision price of k's batch − market price at the sale)
    batch_log: dict[str, BatchRecord] = field(default_factory=dict)  # by batch id, in start order
    liquidations: list[tuple[int, LiquidationResult]] = field(default_factory=list)
    fills: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # (t, qty, avg price)
    batches: list[tuple[int, int]] = field(default_factory=list)  # (t, withdrawn units)
    batch_orders: dict[str, int] = field(default_factory=dict)  # finished batches by order (or "sweep")
    # Time to target: when the policy first asked for a batch, the HF it asked for, and when a
    # finished batch first left HF at it (None: never).
    triggered_at: int | None = None
    target_hf: Decimal | None = None
    target_reached_at: int | None = None
    in_flight_at_start: dict[str, int] = field(default_factory=dict)  # batches in flight when each opened


@dataclass
class Checkpoint:
    bar: int  # state holds from this bar on (until the next checkpoint)
    t: int
    coll_units: int
    debt_units: int
    off_pool_coll: float  # collateral coins in the wallet, in transit or on the exchange
    off_pool_usd: float  # quote/debt coins in the wallet, in transit or on the exchange


@dataclass(frozen=True)
class SellOrder:
    t: int
    key: str
    qty: Decimal
    floor_price: Decimal | None
    mid: Decimal | None  # the book's mid when the order was sent


@dataclass(frozen=True)
class Move:
    """One keyed call that moved funds: ``withdraw`` (collateral units), ``sell`` (coins filled,
    with the IOC's floor), ``repay`` (debt units)."""

    t: int
    key: str
    kind: str
    amount: Decimal
    floor_price: Decimal | None = None


class SimWorld:
    """Shared state of one simulation run."""

    def __init__(
        self,
        *,
        position: Position,
        debt: DebtBook,
        market: Market,
        deposit_delay_s: int,
        withdrawal_delay_s: int,
        gas_gwei: float,
        protocol_fee_bps: int = 1_000,
        pair: Pair = ETH_USDT,
        price_history: bool = True,
    ) -> None:
        self.pair = pair
        self.keeps_price_history = price_history  # False: candles off (exchange.candles_limit = 0)
        self.position = position
        self.debt = debt
        self.market = market
        self.c = market.c
        self.deposit_delay_s = deposit_delay_s
        self.withdrawal_delay_s = withdrawal_delay_s
        self.gas_gwei = gas_gwei
        self.protocol_fee_bps = protocol_fee_bps
        self.bar = 0
        self.now: float = int(self.c.timestamp[0])
        self.low_done = False
        self.oracle_base = position.reserve(pair.collateral).price
        self.wallet: dict[str, int] = {pair.collateral: 0, pair.debt: 0, NATIVE: 0}
        self.exchange: dict[str, Decimal] = {pair.base: Decimal(0), pair.quote: Decimal(0)}
        self.transfers: dict[str, PendingTransfer] = {}  # every one sent, by key (``send``)
        # The ones not landed, in ``transfers``' order: a long run sends hundreds, the clock and
        # the checkpoints look at the few in flight many times a bar.
        self._in_flight: dict[str, PendingTransfer] = {}
        self.txs: dict[str, TxResult] = {}
        self.ledger = Ledger()
        self.events: list[tuple[int, str, str]] = []  # (t, kind, detail)
        self.orders: list[SellOrder] = []  # every IOC sent to the exchange, with the book's mid then
        self.moves: list[Move] = []  # what each keyed call moved: withdrawals, sales, repays
        self.checkpoints: list[Checkpoint] = []
        self.min_hf = math.inf
        self.transit = TransitWatch()
        self.funded_units = 0  # debt tokens the actor brought to the wallet at the start (its buffer)
        self._after_low = {"close": self.c.close, "low": self.c.low, "open": self.c.open}[market.p.sell_price]
        self._ts = self.c.timestamp
        self._n = len(self.c)
        self._interval_s = self.c.interval_s
        self._points: dict[int, tuple[int, Decimal]] = {}  # bar → (open time, close): ``_point``
        self._synced_at: float = -1.0
        self._history: tuple[int, tuple[tuple[int, Decimal], ...]] | None = None

    # -- prices and interest -------------------------------------------------------------------
    def set_price(self, oracle_base: int) -> None:
        """The oracle and the exchange's candle mid move together."""
        self.oracle_base = oracle_base
        self.market.override_mid = oracle_base / 1e8
        self.position = self.position.with_prices({self.pair.collateral: oracle_base})
        self.sync()

    def sync(self) -> None:
        """The debt as of now. The borrow index is read, as the pool's view functions do, and
        stored only when the debt changes (a repay, a liquidation), so how often the
        simulation looks does not change the interest (the binomial index is not multiplicative)."""
        if self.debt.updated_at < self.now and self._synced_at != self.now:
            self.position = self.position.with_reserve(self.pair.debt, debt=self.debt.at(int(self.now)).balance)
            self._synced_at = self.now

    def debt_now(self) -> DebtBook:
        """The borrow index accrued to now (to change the debt from)."""
        return self.debt.at(int(self.now))

    def set_time(self, bar: int, t: int, oracle_base: int) -> None:
        self.bar, self.now = bar, max(t, self.now)
        self.set_price(oracle_base)

    def fold_min_hf(self, hf: float) -> None:
        if hf < self.min_hf:
            self.min_hf = hf
        self.transit.hf(hf)

    def fold_exact_hf(self) -> None:
        hf = health_factor_wad(self.position)
        if hf != MAX_UINT256:
            self.fold_min_hf(hf / 1e18)

    # -- the clock's moves -------------------------------------------------------------------
    def hf_at(self, price_base: int) -> float:
        """The health factor at a collateral price, in floats (a quick bound; exact where it matters)."""
        p = self.pair
        coll = self.position.reserve(p.collateral)
        debt = self.position.reserve(p.debt).debt
        if debt <= 0:
            return math.inf
        value = coll.collateral * price_base * coll.liquidation_threshold_bps / (10**coll.decimals * 10_000.0)
        return value / (debt * 1e8 / 10**p.debt_decimals)

    def enter_bar(self, k: int, price_base: int | None = None, *, priced: bool = True) -> None:
        """Jump to bar k's open (the caller knows nothing happened in the bars skipped).
        ``priced=False``: the low follows at once, so nobody can read the open price."""
        self.bar, self.now, self.low_done = k, max(self.now, int(self._ts[k])), False
        if priced:
            self.set_price(price_base if price_base is not None else to_base(float(self.c.open[k])))
            self.fold_min_hf(self.hf_at(self.oracle_base))

    def visit_low(self) -> None:
        """The bar's low: the liquidator acts on HF < 1; then the price settles for the bar."""
        if self.low_done:
            return
        self.low_done = True
        k = self.bar
        self.now = max(self.now, int(self._ts[k]))
        self.sync()
        low = to_base(float(self.c.low[k]))
        quick = self.hf_at(low)
        if quick > 1.0001:  # clear of liquidation: no need for the exact position at the low
            self.fold_min_hf(quick)
        else:
            self.set_price(low)
            self.fold_exact_hf()
            self._liquidate()
        self.set_price(to_base(float(self._after_low[k])))
        self.checkpoint()

    def _liquidate(self) -> None:
        before = len(self.ledger.liquidations)
        if self.liquidate_while_unhealthy():
            done = self.ledger.liquidations[before:]
            cd, dd = self.pair.collateral_decimals, self.pair.debt_decimals
            for t, res in done:
                self.event(
                    t,
                    "liquidation",
                    f"repaid {from_units(res.debt_repaid, dd)} {self.pair.debt}, seized "
                    f"{from_units(res.collateral_seized, cd)} {self.pair.collateral}, "
                    f"close factor {res.close_factor_bps}",
                )
            self.fold_min_hf(min(r.hf_before_wad for _, r in done) / 1e18)

    def advance_to(self, target: float, *, stop_at_landing: bool) -> None:
        """Move time to ``target`` through bar opens, lows and landings, in that order."""
        ts, n = self._ts, self._n
        while True:
            landing = self.next_landing()
            if landing is not None and landing.arrives_at <= self.now:
                self.land(landing)
                if stop_at_landing:
                    return
                continue
            if target <= self.now:
                return
            if not self.low_done:  # the low comes just after the open
                self.visit_low()
                continue
            t_next = int(ts[self.bar + 1]) if self.bar + 1 < n else math.inf
            if landing is not None and landing.arrives_at < t_next and landing.arrives_at <= target:
                self.now = landing.arrives_at
                continue
            if t_next <= target:
                # The open is seen only when a transfer lands at it (a sleep returns there).
                at_open = landing is not None and landing.arrives_at <= t_next
                self.enter_bar(self.bar + 1, priced=at_open or t_next == target)
                continue
            self.now = target
            return

    # -- transfers ---------------------------------------------------------------------------
    def send(self, tr: PendingTransfer) -> None:
        """A transfer leaves (it lands at ``tr.arrives_at``)."""
        again = tr.key in self.transfers and self.transfers[tr.key].done
        self.transfers[tr.key] = tr
        if again:  # a landed key sent again keeps its first place in ``transfers``: so in ``_in_flight``
            self._in_flight = {k: t for k, t in self.transfers.items() if not t.done}
        else:
            self._in_flight[tr.key] = tr

    def next_landing(self) -> PendingTransfer | None:
        pending = self._in_flight.values()
        return min(pending, key=lambda tr: (tr.arrives_at, tr.key)) if pending else None

    def due(self, until: int) -> list[PendingTransfer]:
        return sorted(
            (tr for tr in self._in_flight.values() if tr.arrives_at < until),
            key=lambda tr: (tr.arrives_at, tr.key),
        )

    def land(self, tr: PendingTransfer) -> None:
        tr.done = True
        self._in_flight.pop(tr.key, None)
        if tr.to_exchange:
            self.exchange[tr.coin] += tr.amount
            self.event(tr.arrives_at, "deposit", f"{tr.amount} {tr.coin}")
        else:
            self.wallet[self.pair.debt] += to_units(tr.amount - tr.fee, self.pair.debt_decimals)
            self.event(tr.arrives_at, "quote-arrived", f"{tr.amount} {tr.coin}")
        self.checkpoint()

    @property
    def in_transit(self) -> bool:
        return bool(self._in_flight)

    # -- accounting ----------------------------------------------------------------------------
    @property
    def collateral_price(self) -> float:
        return self.oracle_base / 1e8

    def pay_gas(self, kind: str) -> None:
        # Gas is paid in ETH: at the candles' price on an ETH pair, else at the model's ETH price.
        eth = self.collateral_price if self.pair.base == "ETH" else self.market.p.gas_eth_price_usd
        self.ledger.gas_usd += gas_usd(kind, gwei=self.gas_gwei, eth_price=eth)

    def health_factor_wad(self) -> int:
        return health_factor_wad(self.position)

    def hf_decimal(self) -> Decimal | None:
        hf = health_factor_wad(self.position)
        return None if hf == MAX_UINT256 else (Decimal(hf) / WAD).quantize(Decimal("0.0001"))

    def batch_record(self, key: str) -> BatchRecord:
        """The record of the batch a keyed call belongs to (keys are "<batch id>:<step>"),
        opened at the first call seen."""
        batch_id = key.split(":", 1)[0]
        record = self.ledger.batch_log.get(batch_id)
        if record is None:
            record = BatchRecord(batch_id, int(self.now), from_units(self.oracle_base, 8), self.hf_decimal())
            self.ledger.batch_log[batch_id] = record
            self.transit.batch_started(self.hf_at(self.oracle_base), self.hf_at(10**8))
        return record

    def event(self, t: int, kind: str, detail: str) -> None:
        self.events.append((int(t), kind, detail))

    def checkpoint(self) -> None:
        p = self.pair
        coll = (self.wallet[p.collateral] + self.wallet[NATIVE]) / 10**p.collateral_decimals + float(
            self.exchange[p.base]
        )
        usd = self.wallet[p.debt] / 10**p.debt_decimals + float(self.exchange[p.quote])
        for tr in self._in_flight.values():
            if tr.coin == p.base:
                coll += float(tr.amount)
            else:
                usd += float(tr.amount - tr.fee)
        self.transit.state(
            coll * self.collateral_price + usd - self.wallet[p.debt] / 10**p.debt_decimals, self.hf_at(10**8)
        )
        self.transit.hf(self.hf_at(self.oracle_base))
        cp = Checkpoint(
            self.bar,
            int(self.now),
            self.position.reserve(p.collateral).collateral,
            self.position.reserve(p.debt).debt,
            coll,
            usd,
        )
        if self.checkpoints and self.checkpoints[-1].bar == self.bar:
            self.checkpoints[-1] = cp
        else:
            self.checkpoints.append(cp)

    # -- the liquidator ------------------------------------------------------------------
    def liquidate_while_unhealthy(self, max_calls: int = 20) -> int:
        calls = 0
        p = self.pair
        while calls < max_calls and self.position.reserve(p.debt).debt > 0 and health_factor_wad(self.position) < WAD:
            result = liquidate_max(
                self.position, collateral=p.collateral, debt=p.debt, protocol_fee_bps=self.protocol_fee_bps
            )
            self.position = result.position
            self.debt = self.debt_now().repaid(result.debt_repaid + result.deficit)
            self.position = self.position.with_reserve(p.debt, debt=self.debt.balance)
            self.ledger.liquidations.append((self.now, result))
            calls += 1
        return calls

    # -- what the daemon keeps of recent prices ----------------------------------------------
    def price_history(self) -> tuple[tuple[int, Decimal], ...]:
        """Hourly closes over 7 days, every completed bar of the last hour (as the daemon keeps them);
        none with candles off, as the daemon then has none."""
        if not self.keeps_price_history:
            return ()
        if self._history is not None and self._history[0] == self.bar:
            return self._history[1]
        ts, j = self._ts, self.bar
        t = int(ts[j])
        lo = int(np.searchsorted(ts, t - HISTORY_S, side="left"))
        recent = int(np.searchsorted(ts, t - 3_600, side="left"))
        picks = (*range(lo, recent, max(1, 3_600 // self._interval_s)), *range(recent, j))
        history = tuple(map(self._point, picks))
        self._history = (j, history)
        return history

    def _point(self, k: int) -> tuple[int, Decimal]:
        """Bar k's (open time, close), made once: the next bar's history holds nearly the same
        points (the tuple is immutable, so the histories share it)."""
        point = self._points.get(k)
        if point is None:
            point = self._points[k] = (int(self._ts[k]), Decimal(repr(float(self.c.close[k]))))
        return point


def to_base(price: float) -> int:
    return int(round(price * 1e8))


class SimClock:
    """``sleep`` moves the simulated world forward (see the module docstring)."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.slept = 0.0  # simulated seconds spent asleep

    def now(self) -> float:
        return float(self.world.now)

    def sleep(self, seconds: float) -> None:
        """Advance ``seconds``; while a transfer is in flight, until it lands: the executor only
        sleeps to poll for it, and a poll before the landing would find nothing new (the bars
        passed on the way are simulated all the same)."""
        if seconds <= 0:
            return
        w = self.world
        target = w.now + seconds
        landing = w.next_landing()
        if landing is not None and landing.arrives_at > target:
            target = landing.arrives_at
        self.slept += target - w.now
        w.advance_to(target, stop_at_landing=True)


class SimLending:
    """The on-chain leg (``bot.ports.Lending``) over the simulated pool and wallet."""

    def __init__(self, world: SimWorld) -> None:
        self.w = world

    def snapshot(self) -> Snapshot:
        w = self.w
        w.sync()
        p = w.pair
        balances = {p.collateral: w.wallet[p.collateral], p.debt: w.wallet[p.debt]}
        return Snapshot(
            position=w.position,
            block=w.bar,
            timestamp=int(w.now),
            chain_id=0,
            wallet=WALLET_ADDRESS,
            wallet_balances=balances,
            exchange_balances=dict(w.exchange),
            price_history=w.price_history(),
            price_history_source="" if w.keeps_price_history else "candles off (exchange.candles_limit = 0)",
        )

    def _record(self, key: str, outcome: Outcome, error: str | None = None) -> TxResult:
        tx_hash = "0x" + hashlib.sha256(key.encode()).hexdigest() if outcome is Outcome.OK else None
        result = TxResult(key=key, outcome=outcome, tx_hash=tx_hash, block=self.w.bar, error=error)
        self.w.txs[key] = result
        return result

    def withdraw(self, *, key: str, symbol: str, amount: int) -> TxResult:
        w = self.w
        w.sync()
        reserve = w.position.reserve(symbol)
        amount = reserve.collateral if amount == MAX_UINT256 else amount
        if not 0 < amount <= reserve.collateral:
            return self._record(key, Outcome.FAILED, "invalid amount")
        after = w.position.with_reserve(symbol, collateral=reserve.collateral - amount)
        if w.position.reserve(w.pair.debt).debt > 0 and health_factor_wad(after) < WAD:
            return self._record(key, Outcome.FAILED, "35: health factor lower than liquidation threshold")
        record = w.batch_record(key)
        record.withdrawn += from_units(amount, w.pair.collateral_decimals)
        w.position = after
        w.wallet[symbol] = w.wallet.get(symbol, 0) + amount
        w.pay_gas("withdraw")
        w.ledger.batches.append((int(w.now), amount))
        w.moves.append(Move(int(w.now), key, "withdraw", Decimal(amount)))
        if w.ledger.arrival_price is None:
            w.ledger.arrival_price = from_units(w.oracle_base, 8)
        w.event(
            w.now,
            "batch",
            f"withdraw {from_units(amount, w.pair.collateral_decimals)} {symbol} at {from_units(w.oracle_base, 8)}",
        )
        w.checkpoint()
        return self._record(key, Outcome.OK)

    def repay(self, *, key: str, symbol: str, amount: int) -> TxResult:
        w = self.w
        w.sync()
        owed = w.debt_now().balance
        pay = min(owed, w.wallet.get(symbol, 0) if amount == MAX_UINT256 else amount)
        if pay <= 0 or pay > w.wallet.get(symbol, 0):
            return self._record(key, Outcome.FAILED, "nothing to repay or insufficient balance")
        record = w.batch_record(key)  # a batch that repays first starts here, before the repay
        w.wallet[symbol] -= pay
        w.debt = w.debt_now().repaid(pay)
        w.position = w.position.with_reserve(w.pair.debt, debt=w.debt.balance)
        w.ledger.debt_repaid_units += pay
        record.repaid += from_units(pay, w.pair.debt_decimals)
        record.hf_after = w.hf_decimal()
        w.pay_gas("repay")
        w.event(w.now, "repay", f"{from_units(pay, w.pair.debt_decimals)} {symbol}")
        w.moves.append(Move(int(w.now), key, "repay", Decimal(pay)))
        w.checkpoint()
        return self._record(key, Outcome.OK)

    def unwrap(self, *, key: str, amount: int) -> TxResult:
        w = self.w
        coll = w.pair.collateral
        if amount <= 0 or w.wallet[coll] < amount:
            return self._record(key, Outcome.FAILED, "insufficient balance")
        w.wallet[coll] -= amount
        w.wallet[NATIVE] += amount
        return self._record(key, Outcome.OK)

    def transfer(self, *, key: str, symbol: str, to: str, amount: int) -> TxResult:
        w = self.w
        p = w.pair
        slot = p.collateral if symbol == p.collateral else NATIVE if symbol == p.base else symbol
        if amount <= 0 or w.wallet.get(slot, 0) < amount:
            return self._record(key, Outcome.FAILED, "insufficient balance")
        w.wallet[slot] -= amount
        to_coin = p.base if slot in (p.collateral, NATIVE) else symbol
        decimals = p.collateral_decimals if to_coin == p.base else p.debt_decimals
        result = self._record(key, Outcome.OK)
        w.send(
            PendingTransfer(
                result.tx_hash, to_coin, from_units(amount, decimals), int(w.now) + w.deposit_delay_s, to_exchange=True
            )
        )
        w.pay_gas("transfer")
        return result

    def lookup(self, key: str) -> TxResult | None:
        return self.w.txs.get(key)


class SimVenue:
    """The exchange leg (``bot.ports.Venue``) over the market model."""

    def __init__(self, world: SimWorld) -> None:
        self.w = world
        self.sells: dict[str, SellResult] = {}
        self.rules_ = world.pair.rules(Decimal(world.market.p.taker_fee_bps) / Decimal(10_000))

    def rules(self, symbol: str) -> MarketRules:
        return self.rules_

    def order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        return self.w.market.order_book(self.w.bar, int(self.w.now), symbol)

    def balances(self) -> dict[str, Decimal]:
        return dict(self.w.exchange)

    def recent_prices(self, symbol: str, *, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        """What the snapshot's price history holds (the backtest's bars), at most ``limit``."""
        return self.w.price_history()[-limit:] if limit > 0 else ()

    def sell(self, *, key: str, symbol: str, qty: Decimal, floor_price: Decimal | None) -> SellResult:
        w = self.w
        if key in self.sells:
            return self.sells[key]
        base, quote = w.pair.base, w.pair.quote
        qty = min(qty, w.exchange[base])
        w.orders.append(SellOrder(int(w.now), key, qty, floor_price, self.order_book(symbol).mid))
        fill, fee = w.market.sell(w.bar, int(w.now), qty, floor_price)
        w.exchange[base] -= fill.qty
        w.exchange[quote] += fill.notional - fee
        result = SellResult(key, qty, fill.qty, fill.notional, fee, (key,), exhausted=fill.qty < qty)
        self.sells[key] = result
        record_fill(w, fill.qty, fill.notional, fee, w.batch_record(key))
        w.moves.append(Move(int(w.now), key, "sell", fill.qty, floor_price))
        if fill.qty > 0:
            w.event(w.now, "sell", f"{fill.qty} {base} at {(fill.notional / fill.qty).quantize(Decimal('0.01'))}")
        return result

    def sell_status(self, *, key: str, symbol: str) -> SellResult:
        """Read-only: what was sold under ``key`` (sends nothing, moves nothing)."""
        done = self.sells.get(key)
        if done is None:
            return SellResult(key, Decimal(0), Decimal(0), Decimal(0), Decimal(0))
        return replace(done, requested=done.filled, exhausted=False)

    def deposit_address(self, coin: str, network: str) -> str:
        return EXCHANGE_ADDRESS

    def deposit(self, *, coin: str, txid: str) -> Transfer:
        tr = self.w.transfers.get(txid)
        if tr is None:
            return Transfer(txid, coin, Decimal(0), TransferState.UNKNOWN)
        return Transfer(txid, coin, tr.amount, TransferState.OK if tr.done else TransferState.PENDING, txid=txid)

    def withdraw(self, *, key: str, coin: str, amount: Decimal, address: str, network: str) -> Transfer:
        w = self.w
        if key in w.transfers:
            return self.withdrawal(key=key, coin=coin)
        fee = w.market.p.quote_withdrawal_fee if coin == w.pair.quote else Decimal(0)
        if amount <= fee or w.exchange.get(coin, Decimal(0)) < amount:
            return Transfer(key, coin, amount, TransferState.FAILED)
        w.exchange[coin] -= amount
        w.send(PendingTransfer(key, coin, amount, int(w.now) + w.withdrawal_delay_s, to_exchange=False, fee=fee))
        return Transfer(key, coin, amount, TransferState.PENDING, fee=fee)

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        tr = self.w.transfers.get(key)
        if tr is None:
            return Transfer(key, coin, Decimal(0), TransferState.UNKNOWN)
        return Transfer(key, coin, tr.amount, TransferState.OK if tr.done else TransferState.PENDING, fee=tr.fee)


def record_fill(w: SimWorld, qty: Decimal, notional: Decimal, fee: Decimal, batch: BatchRecord) -> None:
    """Book a sale in the ledger: quantity, proceeds, fee, the shortfall against the arrival
    price, split per batch into the execution cost (against the market price when the sale was
    sent: spread, depth, the bot's own impact) and the market's move since the batch was decided."""
    if qty <= 0:
        return
    led = w.ledger
    market = from_units(w.oracle_base, 8)
    batch.sold += qty
    batch.proceeds += notional
    led.execution_cost_usd += qty * market - notional
    led.transit_drift_usd += qty * (batch.decision_price - market)
    led.collateral_sold += qty
    led.gross_quote += notional
    led.fees_usd += fee
    led.fills.append((int(w.now), qty, notional / qty))
    if led.arrival_price is not None:
        led.shortfall_usd += qty * led.arrival_price - notional
