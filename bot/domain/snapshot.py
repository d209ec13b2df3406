"""What the controller observes at one instant: the Aave position, idle balances, the book."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.domain.book import OrderBook
from bot.domain.position import AccountData, Position, account_data


@dataclass(frozen=True, slots=True)
class Snapshot:
    position: Position
    block: int
    timestamp: int  # UNIX seconds of the block (or the backtest bar)
    chain_id: int = 0
    wallet: str = ""
    # Idle tokens in the wallet, base units by reserve symbol (plus "ETH" for gas).
    wallet_balances: dict[str, int] = field(default_factory=dict)
    # Free balances on the exchange, whole coins by exchange currency code.
    exchange_balances: dict[str, Decimal] = field(default_factory=dict)
    book: OrderBook | None = None
    # Recent (UNIX seconds, price) of the main collateral, oldest first, for volatility.
    price_history: tuple[tuple[int, Decimal], ...] = ()
    # What price_history holds (e.g. "1m candles (ccxt fetch_ohlcv)"), or why it is empty.
    price_history_source: str = ""

    @property
    def account(self) -> AccountData:
        return account_data(self.position)

    @property
    def health_factor(self) -> Decimal | None:
        return self.account.health_factor
