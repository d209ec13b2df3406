"""Fakes at the ports: a tiny Aave + wallet + exchange "world" with recorded effects and
injectable faults. Writes are strict: calling a write again under a key that already took
effect creates a SECOND effect (a naive adapter would: a new nonce, a new withdrawal), so the
tests catch an executor that re-sends instead of reconciling. Only ``sell`` resumes by key,
as the ``Venue`` port promises.

Time comes from the ``ManualClock``: deposits are credited and withdrawals land when the
clock passes their delay, whoever is polling.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.clock import ManualClock
from bot.domain.book import Level, OrderBook, walk_bids
from bot.domain.position import Position, Reserve, Rounding, from_units, health_factor_wad, to_units
from bot.domain.snapshot import Snapshot
from bot.domain.wadray import MAX_UINT256, WAD
from bot.errors import NeedsReview, OutcomeUnknown, RateLimited, Rejected, Retryable, VenueUnreachable
from bot.ports import MarketRules, Outcome, SellResult, Transfer, TransferState, TxResult

E18 = 10**18
E6 = 10**6


class Crash(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the engine catches it."""


def crash_at(point: str, *, times: int = 1):
    """A crash hook raising ``Crash`` the first ``times`` times ``point`` is reached."""
    seen: list[str] = []

    def hook(p: str) -> None:
        seen.append(p)
        if p == point and seen.count(p) <= times:
            raise Crash(p)

    hook.seen = seen  # type: ignore[attr-defined]
    return hook


# Fault names: what a flaky network or venue does to one call.
LOST = "lost"  # the write happened, the response was lost → OutcomeUnknown
TIMEOUT = "timeout"  # the write did not happen, the client timed out → OutcomeUnknown
HTTP_5XX = "5xx"  # same as TIMEOUT, from a 503
RATE = "rate"  # refused with Retry-After → RateLimited
RETRY = "retry"  # refused, transient → Retryable
REJECT = "reject"  # refused for good → Rejected
REVIEW = "review"  # the adapter found something foreign → NeedsReview


@dataclass
class FakeTx:
    key: str
    hash: str
    kind: str
    symbol: str
    amount: int
    to: str | None
    block: int
    mined_at: float
    ok: bool = True
    error: str | None = None


@dataclass
class FakeOrder:
    client_id: str
    key: str
    qty: Decimal
    filled: Decimal
    gross: Decimal
    fee: Decimal


@dataclass
class FakeWithdrawal:
    key: str
    coin: str
    amount: Decimal
    fee: Decimal
    address: str
    created_at: float
    txid: str
    delivered: bool = False


@dataclass
class FakeDeposit:
    txid: str
    coin: str
    amount: Decimal
    sent_at: float
    credited: bool = False


@dataclass
class FakeWorld:
    clock: ManualClock
    position: Position
    wallet: dict[str, int]
    exchange: dict[str, Decimal]
    book: OrderBook
    wallet_address: str = "0x00000000000000000000000000000000000000a1"
    deposit_address: str = "0x00000000000000000000000000000000000000d1"
    withdraw_fee: Decimal = Decimal("1")
    taker_fee: Decimal = Decimal("0.001")
    confirm_delay_s: float = 12.0  # below the confirmation depth until then
    credit_delay_s: float = 60.0
    withdraw_delay_s: float = 90.0
    block: int = 1000
    txs: list[FakeTx] = field(default_factory=list)
    orders: list[FakeOrder] = field(default_factory=list)
    withdrawals: list[FakeWithdrawal] = field(default_factory=list)
    deposits: dict[str, FakeDeposit] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, key or "")
    next_hash: int = 1
    # An exchange outage: after the next call of ``outage_after[0]`` the venue does not answer
    # for ``outage_after[1]`` s; keyed lookups fail as the adapter's do (``VenueUnreachable``),
    # or with a plain ``Retryable`` (``outage_retryable``: a lookup of an id sent by an earlier process).
    outage_after: tuple[str, float] | None = None
    outage_retryable: bool = False
    down_until: float = 0.0
    price_history: tuple[tuple[int, Decimal], ...] = ()  # what the venue's candles answer

    # ---- bookkeeping -------------------------------------------------------------------------

    def fault(self, method: str, *names: str) -> None:
        self.faults.setdefault(method, []).extend(names)

    def next_fault(self, method: str) -> str | None:
        queue = self.faults.get(method)
        return queue.pop(0) if queue else None

    def venue_call(self, method: str) -> None:
        """Fail while the exchange is down; start the outage after its trigger call."""
        if self.clock.now() < self.down_until:
            message = f"{method}: the exchange does not answer (connection refused)"
            raise Retryable(message) if self.outage_retryable else VenueUnreachable(message)

    def venue_called(self, method: str) -> None:
        if self.outage_after is not None and self.outage_after[0] == method:
            self.down_until = self.clock.now() + self.outage_after[1]
            self.outage_after = None

    def settle(self) -> None:
        """Credit due deposits and land due withdrawals (the outside world moving on)."""
        now = self.clock.now()
        for d in self.deposits.values():
            if not d.credited and now >= d.sent_at + self.credit_delay_s:
                d.credited = True
                self.exchange[d.coin] = self.exchange.get(d.coin, Decimal(0)) + d.amount
        for w in self.withdrawals:
            if not w.delivered and now >= w.created_at + self.withdraw_delay_s:
                w.delivered = True
                self.wallet["USDT"] = self.wallet.get("USDT", 0) + to_units(w.amount - w.fee, 6)

    def tx_hash(self) -> str:
        self.next_hash += 1
        return f"0x{self.next_hash - 1:064x}"

    # ---- persistence, for the subprocess crash tests -----------------------------------------

    def save(self, path) -> None:
        import os
        import pickle

        state = {k: v for k, v in self.__dict__.items() if k != "clock"}
        state["now"] = self.clock.now()
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> FakeWorld:
        import pickle

        with open(path, "rb") as f:
            state = pickle.load(f)
        clock = ManualClock(state.pop("now"))
        world = cls(clock=clock, **{k: v for k, v in state.items() if k in cls.__dataclass_fields__})
        clock.on_sleep.append(lambda _now: world.settle())
        return world

    def reserve(self, symbol: str) -> Reserve:
        return self.position.reserve(symbol)

    def set_reserve(self, symbol: str, **changes: int) -> None:
        self.position = self.position.with_reserve(symbol, **changes)

    # ---- invariants for the tests ------------------------------------------------------------

    def tx_effects_per_key(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for tx in self.txs:
            counts[tx.key] += 1
        return dict(counts)

    def orders_per_client_id(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for o in self.orders:
            counts[o.client_id] += 1
        return dict(counts)

    def withdrawals_per_key(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for w in self.withdrawals:
            counts[w.key] += 1
        return dict(counts)


def make_world(
    clock: ManualClock | None = None,
    *,
    collateral_eth: int = 100,
    debt_usdt: int = 120_000,
    price: int = 2000,
    idle_wallet_usdt: int = 0,
    idle_exchange_usdt: Decimal = Decimal(0),
    bid_levels: tuple[tuple[str, str], ...] | None = None,
) -> FakeWorld:
    clock = clock or ManualClock()
    position = Position(
        reserves=(
            Reserve("WETH", 18, price * 10**8, 8050, 8300, 10500, collateral=collateral_eth * E18, asset="0xweth"),
            Reserve("USDT", 6, 10**8, 7500, 7800, 10450, debt=debt_usdt * E6, asset="0xusdt"),
        ),
        rounding=Rounding.V3_0,
    )
    if bid_levels is None:
        bid_levels = tuple((str(price - i), "5") for i in range(0, 40))
    book = OrderBook(
        "ETH/USDT",
        bids=tuple(Level(Decimal(p), Decimal(q)) for p, q in bid_levels),
        asks=(Level(Decimal(price + 1), Decimal(50)),),
    )
    world = FakeWorld(
        clock=clock,
        position=position,
        wallet={"WETH": 0, "USDT": idle_wallet_usdt * E6, "ETH": E18},
        exchange={"ETH": Decimal(0), "USDT": idle_exchange_usdt},
        book=book,
    )
    clock.on_sleep.append(lambda _now: world.settle())
    return world


def _raise_fault(kind: str, what: str) -> None:
    if kind in (TIMEOUT, HTTP_5XX):
        raise OutcomeUnknown(f"{what}: {'HTTP 503' if kind == HTTP_5XX else 'request timed out'}")
    if kind == RATE:
        raise RateLimited(f"{what}: HTTP 429", retry_after=3.0)
    if kind == RETRY:
        raise Retryable(f"{what}: connection reset")
    if kind == REJECT:
        raise Rejected(f"{what}: insufficient balance", reason="insufficient")
    if kind == REVIEW:
        raise NeedsReview(f"{what}: foreign activity")


class FakeLending:
    def __init__(self, world: FakeWorld) -> None:
        self.w = world

    # reads
    def snapshot(self) -> Snapshot:
        self.w.settle()
        self.w.calls.append(("snapshot", ""))
        fault = self.w.next_fault("snapshot")
        if fault:
            _raise_fault(fault, "snapshot")
        return Snapshot(
            position=self.w.position,
            block=self.w.block,
            timestamp=int(self.w.clock.now()),
            chain_id=31337,
            wallet=self.w.wallet_address,
            wallet_balances=dict(self.w.wallet),
            exchange_balances=dict(self.w.exchange),
            book=self.w.book,
        )

    def lookup(self, key: str) -> TxResult | None:
        self.w.settle()
        self.w.calls.append(("lookup", key))
        fault = self.w.next_fault("lookup")
        if fault:
            _raise_fault(fault, "lookup")
        found = [t for t in self.w.txs if t.key == key]
        return self._result(found[-1]) if found else None

    # writes
    def withdraw(self, *, key: str, symbol: str, amount: int) -> TxResult:
        def effect() -> FakeTx:
            r = self.w.reserve(symbol)
            after = self.w.position.with_reserve(symbol, collateral=r.collateral - amount)
            if amount > r.collateral or health_factor_wad(after) < WAD:
                return self._tx(key, "withdraw", symbol, amount, None, ok=False, error="35")
            self.w.position = after
            self.w.wallet[symbol] = self.w.wallet.get(symbol, 0) + amount
            return self._tx(key, "withdraw", symbol, amount, None)

        return self._write("withdraw", key, effect)

    def repay(self, *, key: str, symbol: str, amount: int) -> TxResult:
        def effect() -> FakeTx:
            debt = self.w.reserve(symbol).debt
            balance = self.w.wallet.get(symbol, 0)
            pay = debt if amount == MAX_UINT256 else min(amount, debt)
            if pay > balance:
                return self._tx(key, "repay", symbol, amount, None, ok=False, error="transfer amount exceeds balance")
            self.w.wallet[symbol] = balance - pay
            self.w.set_reserve(symbol, debt=debt - pay)
            return self._tx(key, "repay", symbol, pay, None)

        return self._write("repay", key, effect)

    def unwrap(self, *, key: str, amount: int) -> TxResult:
        def effect() -> FakeTx:
            if self.w.wallet.get("WETH", 0) < amount:
                return self._tx(key, "unwrap", "WETH", amount, None, ok=False, error="insufficient WETH")
            self.w.wallet["WETH"] -= amount
            self.w.wallet["ETH"] = self.w.wallet.get("ETH", 0) + amount
            return self._tx(key, "unwrap", "WETH", amount, None)

        return self._write("unwrap", key, effect)

    def transfer(self, *, key: str, symbol: str, to: str, amount: int) -> TxResult:
        def effect() -> FakeTx:
            if self.w.wallet.get(symbol, 0) < amount:
                return self._tx(key, "transfer", symbol, amount, to, ok=False, error="insufficient balance")
            self.w.wallet[symbol] -= amount
            tx = self._tx(key, "transfer", symbol, amount, to)
            if to == self.w.deposit_address:
                coin = "ETH" if symbol in ("ETH", "WETH") else symbol
                self.w.deposits[tx.hash] = FakeDeposit(tx.hash, coin, from_units(amount, 18), self.w.clock.now())
            return tx

        return self._write("transfer", key, effect)

    # internals
    def _write(self, method: str, key: str, effect) -> TxResult:
        self.w.settle()
        self.w.calls.append((method, key))
        fault = self.w.next_fault(method)
        if fault == LOST:
            effect()
            raise OutcomeUnknown(f"{method}: response lost")
        if fault:
            _raise_fault(fault, method)
        return self._result(effect())

    def _tx(
        self,
        key: str,
        kind: str,
        symbol: str,
        amount: int,
        to: str | None,
        *,
        ok: bool = True,
        error: str | None = None,
    ) -> FakeTx:
        self.w.block += 1
        tx = FakeTx(key, self.w.tx_hash(), kind, symbol, amount, to, self.w.block, self.w.clock.now(), ok, error)
        self.w.txs.append(tx)
        return tx

    def _result(self, tx: FakeTx) -> TxResult:
        if not tx.ok:
            outcome = Outcome.FAILED
        elif self.w.clock.now() < tx.mined_at + self.w.confirm_delay_s:
            outcome = Outcome.PENDING
        else:
            outcome = Outcome.OK
        return TxResult(tx.key, outcome, tx.hash, tx.block, None, tx.error, 50_000, 50_000 * 10**9)


class FakeVenue:
    def __init__(self, world: FakeWorld) -> None:
        self.w = world

    def rules(self, symbol: str) -> MarketRules:
        return MarketRules(
            symbol,
            "ETH",
            "USDT",
            Decimal("0.01"),
            Decimal("0.0001"),
            Decimal("0.0001"),
            Decimal("10"),
            self.w.taker_fee,
        )

    def order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        self.w.calls.append(("order_book", ""))
        fault = self.w.next_fault("order_book")
        if fault:
            _raise_fault(fault, "order_book")
        return self.w.book

    def recent_prices(self, symbol: str, *, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        self.w.calls.append(("recent_prices", timeframe))
        fault = self.w.next_fault("recent_prices")
        if fault:
            _raise_fault(fault, "recent_prices")
        return self.w.price_history[-limit:] if limit > 0 else ()

    def balances(self) -> dict[str, Decimal]:
        self.w.settle()
        self.w.calls.append(("balances", ""))
        self.w.venue_call("balances")
        return dict(self.w.exchange)

    def sell(self, *, key: str, symbol: str, qty: Decimal, floor_price: Decimal) -> SellResult:
        self.w.settle()
        self.w.calls.append(("sell", key))
        self.w.venue_call("sell")
        fault = self.w.next_fault("sell")
        mine = [o for o in self.w.orders if o.key == key]
        if mine:  # resumable: the orders under this key are already known (IOC: nothing rests)
            return self._result(key, qty, mine)
        if fault and fault != LOST:
            _raise_fault(fault, "sell")
        if qty > self.w.exchange.get("ETH", Decimal(0)):
            raise Rejected("sell: insufficient ETH", reason="insufficient")
        fill = walk_bids(self.w.book.bids, qty, limit_price=floor_price)
        fee = (fill.notional * self.w.taker_fee).quantize(Decimal("0.00000001"))
        self._consume(fill.qty)
        self.w.exchange["ETH"] -= fill.qty
        self.w.exchange["USDT"] = self.w.exchange.get("USDT", Decimal(0)) + fill.notional - fee
        self.w.orders.append(FakeOrder(f"{key}#1", key, qty, fill.qty, fill.notional, fee))
        self.w.venue_called("sell")
        if fault == LOST:
            raise OutcomeUnknown("sell: response lost")
        return self._result(key, qty, [self.w.orders[-1]])

    def sell_status(self, *, key: str, symbol: str) -> SellResult:
        """Read-only: the orders under ``key`` (the ccxt adapter has this too)."""
        self.w.calls.append(("sell_status", key))
        mine = [o for o in self.w.orders if o.key == key]
        return self._result(key, sum((o.qty for o in mine), Decimal(0)), mine)

    def deposit_address(self, coin: str, network: str) -> str:
        return self.w.deposit_address

    def deposit(self, *, coin: str, txid: str) -> Transfer:
        self.w.settle()
        self.w.calls.append(("deposit", txid))
        d = self.w.deposits.get(txid)
        if d is None:
            return Transfer(txid, coin, Decimal(0), TransferState.UNKNOWN)
        return Transfer(txid, d.coin, d.amount, TransferState.OK if d.credited else TransferState.PENDING, txid=txid)

    def withdraw(self, *, key: str, coin: str, amount: Decimal, address: str, network: str) -> Transfer:
        self.w.settle()
        self.w.calls.append(("venue_withdraw", key))
        fault = self.w.next_fault("venue_withdraw")
        if fault and fault != LOST:
            _raise_fault(fault, "venue_withdraw")
        if amount > self.w.exchange.get(coin, Decimal(0)):
            raise Rejected("withdraw: insufficient balance", reason="insufficient")
        self.w.exchange[coin] -= amount
        w = FakeWithdrawal(key, coin, amount, self.w.withdraw_fee, address, self.w.clock.now(), self.w.tx_hash())
        self.w.withdrawals.append(w)
        self.w.venue_called("venue_withdraw")
        if fault == LOST:
            raise OutcomeUnknown("withdraw: response lost")
        return self._transfer(w)

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        self.w.settle()
        self.w.calls.append(("withdrawal", key))
        self.w.venue_call("withdrawal")
        fault = self.w.next_fault("withdrawal")
        if fault:
            _raise_fault(fault, "withdrawal")
        found = [w for w in self.w.withdrawals if w.key == key]
        if not found:
            return Transfer(key, coin, Decimal(0), TransferState.UNKNOWN)
        return self._transfer(found[-1])

    # internals
    def _transfer(self, w: FakeWithdrawal) -> Transfer:
        state = TransferState.OK if w.delivered else TransferState.PENDING
        return Transfer(w.key, w.coin, w.amount, state, txid=w.txid if w.delivered else None, fee=w.fee)

    def _result(self, key: str, qty: Decimal, orders: list[FakeOrder]) -> SellResult:
        filled = sum((o.filled for o in orders), Decimal(0))
        return SellResult(
            key,
            qty,
            filled,
            sum((o.gross for o in orders), Decimal(0)),
            sum((o.fee for o in orders), Decimal(0)),
            tuple(o.client_id for o in orders),
            exhausted=filled < qty,
        )

    def _consume(self, qty: Decimal) -> None:
        levels, remaining = [], qty
        for lv in self.w.book.bids:
            take = min(lv.qty, remaining)
            remaining -= take
            if lv.qty - take > 0:
                levels.append(Level(lv.price, lv.qty - take))
        self.w.book = replace(self.w.book, bids=tuple(levels))
