"""Ports between the engine and the outside world. One engine, swapped adapters:

- backtest: simulated lending + simulated venue driven by historical prices;
- dry-run:  real reads, simulated writes (nothing signed);
- testnet / live: real reads and writes.

Every write takes a deterministic idempotency ``key`` (from the journal) and reports an
``Outcome``; UNKNOWN outcomes are reconciled with ``lookup``-style calls before any retry.
Amounts on chain are int base units; amounts on the exchange are Decimal whole coins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Protocol, runtime_checkable

from bot.domain.book import OrderBook
from bot.domain.snapshot import Snapshot


class Outcome(str, Enum):
    OK = "OK"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    PENDING = "PENDING"  # accepted, not final yet (a tx below its confirmation depth, a transfer in flight)


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """UNIX seconds."""

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class TxResult:
    key: str
    outcome: Outcome
    tx_hash: str | None = None
    block: int | None = None
    nonce: int | None = None
    error: str | None = None  # decoded revert reason or refusal, never a secret
    gas_used: int | None = None
    gas_cost_wei: int | None = None


@runtime_checkable
class Lending(Protocol):
    """The on-chain leg: the Aave pool, the wallet's tokens, transfers."""

    def snapshot(self) -> Snapshot:
        """Position, wallet balances, block and time, all read at one pinned block."""

    def withdraw(self, *, key: str, symbol: str, amount: int) -> TxResult: ...

    def repay(self, *, key: str, symbol: str, amount: int) -> TxResult:
        """``amount`` may be MAX_UINT256 to repay everything (allowance buffer included)."""

    def unwrap(self, *, key: str, amount: int) -> TxResult:
        """WETH → ETH."""

    def transfer(self, *, key: str, symbol: str, to: str, amount: int) -> TxResult:
        """ERC-20 transfer, or native ETH when ``symbol == "ETH"``."""

    def lookup(self, key: str) -> TxResult | None:
        """Reconcile by key: every hash sent for the key's nonce, then (sender, nonce)."""


@dataclass(frozen=True, slots=True)
class MarketRules:
    symbol: str  # unified, e.g. "ETH/USDT"
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    taker_fee: Decimal  # fraction, 0.001 = 10 bps


@dataclass(frozen=True, slots=True)
class SellResult:
    key: str
    requested: Decimal
    filled: Decimal
    gross_quote: Decimal
    fee_quote: Decimal  # fees converted to the quote coin
    client_order_ids: tuple[str, ...] = ()
    exhausted: bool = False  # the book within the cap ran out before ``requested`` sold

    @property
    def net_quote(self) -> Decimal:
        return self.gross_quote - self.fee_quote

    @property
    def avg_price(self) -> Decimal | None:
        return self.gross_quote / self.filled if self.filled else None


class TransferState(str, Enum):
    UNKNOWN = "unknown"  # not found (yet)
    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Transfer:
    key: str  # our id: the deposit tx hash, or the withdrawOrderId
    coin: str
    amount: Decimal
    state: TransferState
    txid: str | None = None
    fee: Decimal = Decimal(0)
    info: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Venue(Protocol):
    """The exchange leg."""

    def rules(self, symbol: str) -> MarketRules: ...

    def order_book(self, symbol: str, depth: int = 100) -> OrderBook: ...

    def balances(self) -> dict[str, Decimal]:
        """Free balances by coin."""

    def recent_prices(self, symbol: str, *, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        """(UNIX seconds, close) of the last ``limit`` candles of ``timeframe`` ("1m", "5m",
        "1h"), oldest first, each at its candle's close time (the candle in progress included:
        its close is the price now). What the planner's σ for the in-transit shock comes from."""

    def sell(self, *, key: str, symbol: str, qty: Decimal, floor_price: Decimal) -> SellResult:
        """IOC limit sells at ``floor_price`` until ``qty`` is sold or the book above it is gone.
        Client order ids derive from ``key``; a lost response is reconciled, never re-sent blind."""

    def sell_status(self, *, key: str, symbol: str) -> SellResult:
        """Read-only: what has been sold under ``key`` so far (every order found by its client
        id, ``requested`` = ``filled``). Sends nothing; an id whose absence is not conclusive
        yet is waited for, never guessed."""

    def deposit_address(self, coin: str, network: str) -> str: ...

    def deposit(self, *, coin: str, txid: str) -> Transfer:
        """The exchange's view of our deposit transaction ``txid``."""

    def withdraw(self, *, key: str, coin: str, amount: Decimal, address: str, network: str) -> Transfer:
        """Request a withdrawal with ``withdrawOrderId`` derived from ``key`` (lookup first)."""

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        """Follow the withdrawal made under ``key``."""


@dataclass(frozen=True, slots=True)
class DexQuote:
    """The DEX route's price now for repaying ``repay_units`` of ``debt`` with ``collateral``
    in one atomic transaction: flash-borrow the debt, repay, withdraw, swap exactly the loan
    plus premium out of one pool, repay the loan. All amounts in base units."""

    collateral: str  # Aave reserve symbols, e.g. "WETH", "USDT"
    debt: str
    repay_units: int  # debt repaid (the flash loan)
    collateral_in_units: int  # collateral the swap takes now: pool fee and price impact included
    flash_premium_units: int  # in debt units, bought by the swap on top of the repay
    pool_fee: int  # the Uniswap v3 fee tier priced: 500, 3000, …
    gas_units: int  # the deleverage's gas (an approval's included when one is needed)
    source: str  # where the price came from, e.g. "quoter (QuoterV2 on chain)", "depth model"


@runtime_checkable
class Dex(Protocol):
    """The DEX route: one atomic flash-loan deleverage; HF only rises, nothing is in transit."""

    def quote(self, *, collateral: str, debt: str, repay_units: int) -> DexQuote | None:
        """The cheapest pool's price for this repay; None when no pool can return it."""

    def pool_quote(self, *, collateral: str, debt: str, repay_units: int, pool_fee: int) -> DexQuote | None:
        """The price of the pool of ``pool_fee`` alone; None when it cannot return the repay."""

    def atomic_deleverage(
        self, *, key: str, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> TxResult:
        """Repay ``repay_units`` selling at most ``max_collateral_in_units`` (the slippage cap:
        past it the whole transaction reverts) on the pool of ``pool_fee``, under ``key`` (one
        key, one nonce; a repeated call reconciles, never re-sends)."""

    def lookup(self, key: str) -> TxResult | None:
        """Reconcile by key, like ``Lending.lookup``."""
