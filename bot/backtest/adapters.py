"""Simulated adapters behind the engine's ports (``bot.ports``): ``SimLending`` (the Aave pool
and the wallet), ``SimVenue`` (the exchange) and ``SimClock``, sharing one ``SimWorld``.

They hold exact state (int base units on chain, Decimal on the exchange) and move it only
when called through the port methods, so the code driving them is the same code that drives
the live adapters. Time is the world's: transfers land when the runner advances the clock past
their arrival time (deposit confirmations, exchange withdrawal processing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.backtest.lending import DebtBook, LiquidationResult, liquidate_max
from bot.backtest.market import Market, gas_usd
from bot.domain.book import OrderBook
from bot.domain.position import Position, from_units, health_factor_wad, to_units
from bot.domain.snapshot import Snapshot
from bot.domain.wadray import MAX_UINT256, WAD
from bot.ports import MarketRules, Outcome, SellResult, Transfer, TransferState, TxResult

COLL, DEBT = "WETH", "USDT"
BASE_COIN, QUOTE_COIN = "ETH", "USDT"
MIN_SELL_QTY = Decimal("0.0001")
EXCHANGE_ADDRESS = "0x000000000000000000000000000000000000b1a5"
WALLET_ADDRESS = "0x000000000000000000000000000000000000a11e"


@dataclass
class PendingTransfer:
    key: str
    coin: str
    amount: Decimal
    arrives_at: int
    to_exchange: bool
    done: bool = False


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
    liquidations: list[tuple[int, LiquidationResult]] = field(default_factory=list)
    fills: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # (t, qty, avg price)
    batches: list[tuple[int, int]] = field(default_factory=list)  # (t, withdrawn units)


class SimWorld:
    """Shared state of one simulation run."""

    def __init__(self, *, position: Position, debt: DebtBook, market: Market, deposit_delay_s: int,
                 withdrawal_delay_s: int, gas_gwei: float, protocol_fee_bps: int = 1_000) -> None:
        self.position = position
        self.debt = debt
        self.market = market
        self.deposit_delay_s = deposit_delay_s
        self.withdrawal_delay_s = withdrawal_delay_s
        self.gas_gwei = gas_gwei
        self.protocol_fee_bps = protocol_fee_bps
        self.bar = 0
        self.now = int(market.c.timestamp[0])
        self.oracle_base = position.reserve(COLL).price
        self.wallet: dict[str, int] = {COLL: 0, DEBT: 0}
        self.exchange: dict[str, Decimal] = {BASE_COIN: Decimal(0), QUOTE_COIN: Decimal(0)}
        self.stranded = Decimal(0)  # collateral coins left unsold on the exchange after the retry window
        self.transfers: dict[str, PendingTransfer] = {}
        self.txs: dict[str, TxResult] = {}
        self.ledger = Ledger()

    # -- time and prices --------------------------------------------------------------------
    def set_time(self, bar: int, t: int, oracle_base: int) -> None:
        self.bar, self.now = bar, max(t, self.now)
        self.debt = self.debt.at(self.now)
        self.oracle_base = oracle_base
        self.position = self.position.with_prices({COLL: oracle_base}).with_reserve(DEBT, debt=self.debt.balance)

    def due(self, until: int) -> list[PendingTransfer]:
        return sorted((tr for tr in self.transfers.values() if not tr.done and tr.arrives_at < until),
                      key=lambda tr: (tr.arrives_at, tr.key))

    def land(self, tr: PendingTransfer) -> None:
        tr.done = True
        if tr.to_exchange:
            self.exchange[tr.coin] += tr.amount
        else:
            self.wallet[DEBT] += to_units(tr.amount, self.position.reserve(DEBT).decimals)

    def strand(self, qty: Decimal) -> None:
        self.exchange[BASE_COIN] -= qty
        self.stranded += qty

    @property
    def busy(self) -> bool:
        return any(not tr.done for tr in self.transfers.values()) or self.exchange[BASE_COIN] >= MIN_SELL_QTY

    @property
    def eth_price(self) -> float:
        return self.oracle_base / 1e8

    def pay_gas(self, kind: str) -> None:
        self.ledger.gas_usd += gas_usd(kind, gwei=self.gas_gwei, eth_price=self.eth_price)

    def health_factor_wad(self) -> int:
        return health_factor_wad(self.position)

    # -- the liquidator ------------------------------------------------------------------
    def liquidate_while_unhealthy(self, max_calls: int = 20) -> int:
        calls = 0
        while calls < max_calls and self.position.reserve(DEBT).debt > 0 and health_factor_wad(self.position) < WAD:
            result = liquidate_max(self.position, collateral=COLL, debt=DEBT, protocol_fee_bps=self.protocol_fee_bps)
            self.position = result.position
            self.debt = self.debt.repaid(result.debt_repaid + result.deficit)
            self.position = self.position.with_reserve(DEBT, debt=self.debt.balance)
            self.ledger.liquidations.append((self.now, result))
            calls += 1
        return calls


class SimClock:
    def __init__(self, world: SimWorld) -> None:
        self.world = world

    def now(self) -> float:
        return float(self.world.now)

    def sleep(self, seconds: float) -> None:  # the runner moves time; sleeping is a no-op
        return None


class SimLending:
    """The on-chain leg (``bot.ports.Lending``) over the simulated pool and wallet."""

    def __init__(self, world: SimWorld) -> None:
        self.w = world

    def snapshot(self) -> Snapshot:
        w = self.w
        return Snapshot(
            position=w.position, block=w.bar, timestamp=w.now, chain_id=0, wallet=WALLET_ADDRESS,
            wallet_balances=dict(w.wallet), exchange_balances=dict(w.exchange),
        )

    def _record(self, key: str, outcome: Outcome, error: str | None = None) -> TxResult:
        tx_hash = "0x" + hashlib.sha256(key.encode()).hexdigest() if outcome is Outcome.OK else None
        result = TxResult(key=key, outcome=outcome, tx_hash=tx_hash, block=self.w.bar, error=error)
        self.w.txs[key] = result
        return result

    def withdraw(self, *, key: str, symbol: str, amount: int) -> TxResult:
        w = self.w
        reserve = w.position.reserve(symbol)
        amount = reserve.collateral if amount == MAX_UINT256 else amount
        if not 0 < amount <= reserve.collateral:
            return self._record(key, Outcome.FAILED, "invalid amount")
        after = w.position.with_reserve(symbol, collateral=reserve.collateral - amount)
        if w.position.reserve(DEBT).debt > 0 and health_factor_wad(after) < WAD:
            return self._record(key, Outcome.FAILED, "35: health factor lower than liquidation threshold")
        w.position = after
        w.wallet[symbol] = w.wallet.get(symbol, 0) + amount
        w.pay_gas("withdraw")
        w.ledger.batches.append((w.now, amount))
        return self._record(key, Outcome.OK)

    def repay(self, *, key: str, symbol: str, amount: int) -> TxResult:
        w = self.w
        owed = w.debt.balance
        pay = min(owed, w.wallet.get(symbol, 0) if amount == MAX_UINT256 else amount)
        if pay <= 0 or pay > w.wallet.get(symbol, 0):
            return self._record(key, Outcome.FAILED, "nothing to repay or insufficient balance")
        w.wallet[symbol] -= pay
        w.debt = w.debt.repaid(pay)
        w.position = w.position.with_reserve(DEBT, debt=w.debt.balance)
        w.ledger.debt_repaid_units += pay
        w.pay_gas("repay")
        return self._record(key, Outcome.OK)

    def unwrap(self, *, key: str, amount: int) -> TxResult:
        return self._record(key, Outcome.OK)  # WETH and ETH are the same coin on the simulated exchange

    def transfer(self, *, key: str, symbol: str, to: str, amount: int) -> TxResult:
        w = self.w
        if amount <= 0 or w.wallet.get(symbol, 0) < amount:
            return self._record(key, Outcome.FAILED, "insufficient balance")
        w.wallet[symbol] -= amount
        coin = BASE_COIN if symbol in (COLL, "ETH") else symbol
        decimals = w.position.reserve(COLL).decimals if coin == BASE_COIN else w.position.reserve(DEBT).decimals
        result = self._record(key, Outcome.OK)
        w.transfers[result.tx_hash] = PendingTransfer(result.tx_hash, coin, from_units(amount, decimals),
                                                      w.now + w.deposit_delay_s, to_exchange=True)
        w.pay_gas("transfer")
        return result

    def lookup(self, key: str) -> TxResult | None:
        return self.w.txs.get(key)


class SimVenue:
    """The exchange leg (``bot.ports.Venue``) over the market model."""

    RULES = MarketRules("ETH/USDT", BASE_COIN, QUOTE_COIN, Decimal("0.01"), Decimal("0.0001"),
                        Decimal("0.0001"), Decimal("5"), Decimal("0.001"))

    def __init__(self, world: SimWorld) -> None:
        self.w = world
        self.sells: dict[str, SellResult] = {}
        self.rules_ = replace(self.RULES, taker_fee=Decimal(world.market.p.taker_fee_bps) / Decimal(10_000))

    def rules(self, symbol: str) -> MarketRules:
        return self.rules_

    def order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        return self.w.market.order_book(self.w.bar, self.w.now, symbol)

    def balances(self) -> dict[str, Decimal]:
        return dict(self.w.exchange)

    def sell(self, *, key: str, symbol: str, qty: Decimal, floor_price: Decimal | None) -> SellResult:
        w = self.w
        if key in self.sells:
            return self.sells[key]
        qty = min(qty, w.exchange[BASE_COIN])
        fill, fee = w.market.sell(w.bar, w.now, qty, floor_price)
        w.exchange[BASE_COIN] -= fill.qty
        w.exchange[QUOTE_COIN] += fill.notional - fee
        result = SellResult(key, qty, fill.qty, fill.notional, fee, (key,), exhausted=fill.qty < qty)
        self.sells[key] = result
        record_fill(w, fill.qty, fill.notional, fee)
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
        if amount <= 0 or w.exchange[coin] < amount:
            return Transfer(key, coin, amount, TransferState.FAILED)
        w.exchange[coin] -= amount
        w.transfers[key] = PendingTransfer(key, coin, amount, w.now + w.withdrawal_delay_s, to_exchange=False)
        return Transfer(key, coin, amount, TransferState.PENDING)

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        tr = self.w.transfers.get(key)
        if tr is None:
            return Transfer(key, coin, Decimal(0), TransferState.UNKNOWN)
        return Transfer(key, coin, tr.amount, TransferState.OK if tr.done else TransferState.PENDING)


def record_fill(w: SimWorld, qty: Decimal, notional: Decimal, fee: Decimal) -> None:
    """Book a sale in the ledger (quantity, proceeds, fee, shortfall against the arrival price)."""
    if qty <= 0:
        return
    led = w.ledger
    led.collateral_sold += qty
    led.gross_quote += notional
    led.fees_usd += fee
    led.fills.append((w.now, qty, notional / qty))
    if led.arrival_price is not None:
        led.shortfall_usd += qty * led.arrival_price - notional
