"""Dry-run adapters: real reads, simulated writes, nothing signed or sent.

``DryRunLending`` wraps a real ``Lending``, ``DryRunVenue`` a real ``Venue`` and ``DryRunDex``
the DEX route's quotes. Writes never reach the wrapped adapters: they change a shared
``DryRunLedger`` of deltas (collateral withdrawn, debt repaid, tokens moved, coins on the
exchange), and reads return the real state with those deltas applied. Sells fill from the REAL
order book with ``walk_bids`` at the IOC floor, so a dry-run shows what the live bot would have
got. Every write is recorded by key and ``lookup``/``sell``/``withdrawal`` reconcile by key
exactly like the real adapters, so the executor, the journal and the controller run unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.domain.book import walk_bids
from bot.domain.position import Position, health_factor_wad, to_units
from bot.domain.snapshot import Snapshot
from bot.domain.wadray import MAX_UINT256, WAD
from bot.ports import (
    Dex,
    DexQuote,
    Lending,
    MarketRules,
    Outcome,
    SellResult,
    Transfer,
    TransferState,
    TxResult,
    Venue,
)

DRY_RUN_DEPOSIT_ADDRESS = "0x00000000000000000000000000000000d0d0d0d0"
_FEE_QUANTUM = Decimal("0.00000001")


@dataclass
class DryRunLedger:
    """What the simulated writes changed, on top of the real state."""

    quote_reserve: str = "USDT"  # the Aave symbol the exchange's quote coin lands as
    quote_decimals: int = 6
    withdraw_fee: Decimal = Decimal("1")  # quote coins per exchange withdrawal
    real_balances: bool = True  # False without API keys: the exchange account starts empty
    collateral: dict[str, int] = field(default_factory=dict)  # aToken delta, base units
    debt: dict[str, int] = field(default_factory=dict)
    wallet: dict[str, int] = field(default_factory=dict)
    exchange: dict[str, Decimal] = field(default_factory=dict)
    txs: dict[str, TxResult] = field(default_factory=dict)
    deposits: dict[str, Transfer] = field(default_factory=dict)
    withdrawals: dict[str, Transfer] = field(default_factory=dict)
    sells: dict[str, SellResult] = field(default_factory=dict)
    block: int = 0

    def add(self, table: dict, key: str, delta: int | Decimal) -> None:
        table[key] = table.get(key, type(delta)(0)) + delta


def _fake_hash(key: str) -> str:
    return "0x" + hashlib.sha256(f"dry-run:{key}".encode()).hexdigest()


class DryRunLending:
    def __init__(self, real: Lending, ledger: DryRunLedger) -> None:
        self._real = real
        self.ledger = ledger

    # reads: the real state, plus what the simulation moved
    def snapshot(self) -> Snapshot:
        snap = self._real.snapshot()
        return replace(snap, position=self._position(snap.position), wallet_balances=self._wallet(snap.wallet_balances))

    def lookup(self, key: str) -> TxResult | None:
        return self.ledger.txs.get(key)

    # writes: simulated only
    def withdraw(self, *, key: str, symbol: str, amount: int) -> TxResult:
        snap = self.snapshot()
        reserve = snap.position.reserve(symbol)
        if amount > reserve.collateral:
            return self.record(key, ok=False, error="withdraw exceeds the collateral")
        after = snap.position.with_reserve(symbol, collateral=reserve.collateral - amount)
        if snap.position.debts and health_factor_wad(after) < WAD:
            return self.record(key, ok=False, error="35")  # HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD
        self.ledger.add(self.ledger.collateral, symbol, -amount)
        self.ledger.add(self.ledger.wallet, symbol, amount)
        return self.record(key)

    def repay(self, *, key: str, symbol: str, amount: int) -> TxResult:
        snap = self.snapshot()
        debt = snap.position.reserve(symbol).debt
        balance = snap.wallet_balances.get(symbol, 0)
        pay = debt if amount == MAX_UINT256 else min(amount, debt)
        if pay > balance:
            return self.record(key, ok=False, error="transfer amount exceeds balance")
        self.ledger.add(self.ledger.wallet, symbol, -pay)
        self.ledger.add(self.ledger.debt, symbol, -pay)
        return self.record(key)

    def unwrap(self, *, key: str, amount: int) -> TxResult:
        if self.snapshot().wallet_balances.get("WETH", 0) < amount:
            return self.record(key, ok=False, error="insufficient WETH")
        self.ledger.add(self.ledger.wallet, "WETH", -amount)
        self.ledger.add(self.ledger.wallet, "ETH", amount)
        return self.record(key)

    def transfer(self, *, key: str, symbol: str, to: str, amount: int) -> TxResult:
        if self.snapshot().wallet_balances.get(symbol, 0) < amount:
            return self.record(key, ok=False, error="insufficient balance")
        self.ledger.add(self.ledger.wallet, symbol, -amount)
        result = self.record(key)
        if to == DRY_RUN_DEPOSIT_ADDRESS:
            coin = "ETH" if symbol in ("ETH", "WETH") else symbol
            decimals = 18 if coin == "ETH" else self.ledger.quote_decimals
            qty = Decimal(amount).scaleb(-decimals)
            self.ledger.add(self.ledger.exchange, coin, qty)  # credited at once in the simulation
            self.ledger.deposits[result.tx_hash or ""] = Transfer(
                result.tx_hash or "", coin, qty, TransferState.OK, txid=result.tx_hash
            )
        return result

    def record(self, key: str, *, ok: bool = True, error: str | None = None) -> TxResult:
        """One simulated transaction's result on the ledger's next block (``DryRunDex`` too)."""
        self.ledger.block += 1
        result = TxResult(
            key=key,
            outcome=Outcome.OK if ok else Outcome.FAILED,
            tx_hash=_fake_hash(key),
            block=self.ledger.block,
            error=error,
            gas_used=0,
            gas_cost_wei=0,
        )
        self.ledger.txs[key] = result
        return result

    # internals
    def _position(self, position: Position) -> Position:
        for symbol in set(self.ledger.collateral) | set(self.ledger.debt):
            if not position.has(symbol):
                continue
            r = position.reserve(symbol)
            position = position.with_reserve(
                symbol,
                collateral=max(0, r.collateral + self.ledger.collateral.get(symbol, 0)),
                debt=max(0, r.debt + self.ledger.debt.get(symbol, 0)),
            )
        return position

    def _wallet(self, real: dict[str, int]) -> dict[str, int]:
        merged = dict(real)
        for symbol, delta in self.ledger.wallet.items():
            merged[symbol] = max(0, merged.get(symbol, 0) + delta)
        return merged


class DryRunVenue:
    def __init__(self, real: Venue, ledger: DryRunLedger) -> None:
        self._real = real
        self.ledger = ledger

    # reads
    def rules(self, symbol: str) -> MarketRules:
        return self._real.rules(symbol)

    def order_book(self, symbol: str, depth: int = 100):  # noqa: ANN201 - the port's OrderBook
        return self._real.order_book(symbol, depth)

    def recent_prices(self, symbol: str, *, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        return self._real.recent_prices(symbol, timeframe=timeframe, limit=limit)

    def balances(self) -> dict[str, Decimal]:
        merged = dict(self._real.balances()) if self.ledger.real_balances else {}
        for coin, delta in self.ledger.exchange.items():
            merged[coin] = max(Decimal(0), merged.get(coin, Decimal(0)) + delta)
        return merged

    def deposit_address(self, coin: str, network: str) -> str:
        # Never the real one: a dry-run must not be one config slip away from a real transfer.
        return DRY_RUN_DEPOSIT_ADDRESS

    def deposit(self, *, coin: str, txid: str) -> Transfer:
        return self.ledger.deposits.get(txid) or Transfer(txid, coin, Decimal(0), TransferState.UNKNOWN)

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        return self.ledger.withdrawals.get(key) or Transfer(key, coin, Decimal(0), TransferState.UNKNOWN)

    # writes: simulated against the real book
    def sell(self, *, key: str, symbol: str, qty: Decimal, floor_price: Decimal) -> SellResult:
        if key in self.ledger.sells:
            return self.ledger.sells[key]
        rules = self._real.rules(symbol)
        available = self.balances().get(rules.base, Decimal(0))
        qty = min(qty, available)
        fill = walk_bids(self._real.order_book(symbol).bids, qty, limit_price=floor_price)
        fee = (fill.notional * rules.taker_fee).quantize(_FEE_QUANTUM)
        self.ledger.add(self.ledger.exchange, rules.base, -fill.qty)
        self.ledger.add(self.ledger.exchange, rules.quote, fill.notional - fee)
        result = SellResult(
            key=key,
            requested=qty,
            filled=fill.qty,
            gross_quote=fill.notional,
            fee_quote=fee,
            client_order_ids=(f"{key}#1",) if fill.qty else (),
            exhausted=fill.qty < qty,
        )
        self.ledger.sells[key] = result
        return result

    def sell_status(self, *, key: str, symbol: str) -> SellResult:
        """What the simulation sold under ``key`` (nothing reaches the real exchange)."""
        done = self.ledger.sells.get(key)
        if done is None:
            return SellResult(
                key=key, requested=Decimal(0), filled=Decimal(0), gross_quote=Decimal(0), fee_quote=Decimal(0)
            )
        return replace(done, requested=done.filled, exhausted=False)

    def withdraw(self, *, key: str, coin: str, amount: Decimal, address: str, network: str) -> Transfer:
        if key in self.ledger.withdrawals:
            return self.ledger.withdrawals[key]
        if amount > self.balances().get(coin, Decimal(0)):
            from bot.errors import Rejected

            raise Rejected(f"dry-run withdraw of {amount} {coin}: insufficient balance", reason="insufficient")
        fee = min(self.ledger.withdraw_fee, amount)
        self.ledger.add(self.ledger.exchange, coin, -amount)
        self.ledger.add(
            self.ledger.wallet, self.ledger.quote_reserve, to_units(amount - fee, self.ledger.quote_decimals)
        )
        transfer = Transfer(key, coin, amount, TransferState.OK, txid=_fake_hash(key), fee=fee)
        self.ledger.withdrawals[key] = transfer
        return transfer


class DryRunDex:
    """The DEX route in a dry-run: real quotes (the pools on chain), and the atomic deleverage
    simulated on the lending's ledger at the price the chosen pool quotes now, under the
    adapter's revert rules (past the slippage cap, more collateral than supplied, HF not
    rising: FAILED, nothing moved). Each one is priced on the pools as they are on chain: an
    earlier simulated swap has not moved them."""

    def __init__(self, real: Dex, lending: DryRunLending) -> None:
        self._real = real
        self._lending = lending
        self.ledger = lending.ledger

    def quote(self, *, collateral: str, debt: str, repay_units: int) -> DexQuote | None:
        return self._real.quote(collateral=collateral, debt=debt, repay_units=repay_units)

    def pool_quote(self, *, collateral: str, debt: str, repay_units: int, pool_fee: int) -> DexQuote | None:
        return self._real.pool_quote(collateral=collateral, debt=debt, repay_units=repay_units, pool_fee=pool_fee)

    def lookup(self, key: str) -> TxResult | None:
        return self.ledger.txs.get(key)

    def atomic_deleverage(
        self, *, key: str, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> TxResult:
        if key in self.ledger.txs:
            return self.ledger.txs[key]  # one key, one transaction: reconciled, never re-sent
        lending = self._lending
        position = lending.snapshot().position
        owed = position.reserve(debt).debt
        if owed == 0:
            return lending.record(key, ok=False, error=f"no {debt} debt")
        priced = self._real.pool_quote(collateral=collateral, debt=debt, repay_units=repay_units, pool_fee=pool_fee)
        if priced is None:
            return lending.record(key, ok=False, error=f"the {pool_fee} pool cannot pay the repay: reverted")
        units_in = priced.collateral_in_units
        if units_in > max_collateral_in_units:
            return lending.record(key, ok=False, error="the pool's price is past the slippage cap: reverted")
        supplied = position.reserve(collateral).collateral
        if units_in > supplied:
            return lending.record(key, ok=False, error=f"the swap needs more {collateral} than is supplied: reverted")
        paid = min(repay_units, owed)
        after = position.with_reserve(collateral, collateral=supplied - units_in).with_reserve(debt, debt=owed - paid)
        if owed > paid and health_factor_wad(after) <= health_factor_wad(position):
            return lending.record(key, ok=False, error="the health factor would not rise: reverted")
        self.ledger.add(self.ledger.collateral, collateral, -units_in)
        self.ledger.add(self.ledger.debt, debt, -paid)
        self.ledger.add(self.ledger.wallet, debt, repay_units - paid)  # the adapter returns what the repay left
        return lending.record(key)


def dry_run_pair(
    lending: Lending,
    venue: Venue,
    *,
    quote_reserve: str = "USDT",
    quote_decimals: int = 6,
    withdraw_fee: Decimal = Decimal("1"),
    real_balances: bool = True,
) -> tuple[DryRunLending, DryRunVenue]:
    """Wrap real adapters for a dry-run; both sides share one ledger."""
    ledger = DryRunLedger(
        quote_reserve=quote_reserve,
        quote_decimals=quote_decimals,
        withdraw_fee=withdraw_fee,
        real_balances=real_balances,
    )
    return DryRunLending(lending, ledger), DryRunVenue(venue, ledger)
