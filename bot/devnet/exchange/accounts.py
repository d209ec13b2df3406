"""Account state: balances (free / locked), orders, trades, and their Binance JSON shapes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.devnet.exchange import apierrors

EIGHT = Decimal("0.00000001")
ZERO = Decimal(0)


def fmt(value: Decimal | None) -> str:
    """Binance prints amounts with 8 decimals."""
    return f"{(value or ZERO).quantize(EIGHT):f}"


@dataclass(slots=True)
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int

    def as_json(self) -> dict[str, Any]:
        return {
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }


@dataclass(slots=True)
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # LIMIT | MARKET | LIMIT_MAKER
    time_in_force: str  # GTC | IOC | FOK ("GTC" shown for MARKET, as Binance does)
    price: Decimal  # 0 for MARKET
    orig_qty: Decimal
    time_ms: int
    orig_quote_qty: Decimal = ZERO
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_ms: int = 0
    fills: list[Fill] = field(default_factory=list)
    locked: Decimal = ZERO  # what this order still holds locked (base for sells, quote for buys)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
        }

    def new_order_json(self, resp_type: str) -> dict[str, Any]:
        """The POST /api/v3/order answer (ACK, RESULT or FULL)."""
        ack = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time_ms,
        }
        if resp_type == "ACK":
            return ack
        body = self._common() | {
            "transactTime": self.time_ms,
            "workingTime": self.time_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if resp_type == "FULL":
            body["fills"] = [f.as_json() for f in self.fills]
        return body

    def query_json(self) -> dict[str, Any]:
        """GET /api/v3/order, openOrders, allOrders."""
        return self._common() | {
            "stopPrice": fmt(ZERO),
            "icebergQty": fmt(ZERO),
            "time": self.time_ms,
            "updateTime": self.update_ms or self.time_ms,
            "isWorking": True,
            "workingTime": self.time_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def cancel_json(self, cancel_client_id: str, now_ms: int) -> dict[str, Any]:
        body = self._common()
        body["origClientOrderId"] = self.client_order_id
        body["clientOrderId"] = cancel_client_id  # Binance: the id of the cancel request
        body["transactTime"] = now_ms
        body["selfTradePreventionMode"] = "EXPIRE_MAKER"
        return body


@dataclass(slots=True)
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "quoteQty": fmt(self.price * self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.is_buyer,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }


class Account:
    """One API key's account."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.free: dict[str, Decimal] = defaultdict(Decimal)
        self.locked: dict[str, Decimal] = defaultdict(Decimal)
        self.orders: dict[int, Order] = {}
        self.by_client: dict[tuple[str, str], list[Order]] = defaultdict(list)
        self.resting: dict[int, Order] = {}  # open orders (pruned lazily once they close)
        self.trades: list[Trade] = []
        self.update_ms = 0

    def __repr__(self) -> str:  # never the secret
        return f"Account(api_key={self.api_key[:6]}…)"

    # -- balances ---------------------------------------------------------------------
    def credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] += amount

    def debit(self, asset: str, amount: Decimal) -> None:
        if self.free[asset] < amount:
            raise apierrors.insufficient_balance()
        self.free[asset] -= amount

    def lock(self, asset: str, amount: Decimal) -> None:
        self.debit(asset, amount)
        self.locked[asset] += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount
        self.free[asset] += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount

    def balances_json(self) -> list[dict[str, str]]:
        assets = sorted(set(self.free) | set(self.locked))
        return [{"asset": a, "free": fmt(self.free[a]), "locked": fmt(self.locked[a])} for a in assets]

    # -- orders -----------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.by_client[(order.symbol, order.client_order_id)].append(order)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        for order_id in [i for i, o in self.resting.items() if not o.is_open]:
            del self.resting[order_id]
        return [o for o in self.resting.values() if symbol is None or o.symbol == symbol]

    def open_order_by_client_id(self, symbol: str, client_id: str) -> Order | None:
        return next((o for o in self.by_client.get((symbol, client_id), ()) if o.is_open), None)

    def find_order(self, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        """By id; by client id the open order wins, else the most recent one (as Binance)."""
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order is not None and order.symbol == symbol else None
        if client_id is None:
            return None
        matches = self.by_client.get((symbol, client_id), [])
        if not matches:
            return None
        open_ones = [o for o in matches if o.is_open]
        return (open_ones or matches)[-1]
