"""A small recording stand-in for the ccxt Binance client object, with scripted faults.

It keeps Binance's semantics where the venue adapter depends on them: IOC limit sells
match a scripted bid book and end FILLED or EXPIRED, client ids are unique only among OPEN
orders (so a re-sent IOC id makes a second order), lookups by client id answer the latest
order with that id, and answers carry Binance's raw strings in ``info``.

Faults are queued per method: ``fake.fault("create_order", "lost")`` makes the next call
execute and then raise a timeout (the response was lost); ``"timeout"`` raises before
executing; any exception instance is raised before executing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt

from bot.clock import ManualClock


@dataclass
class FakeOrder:
    order_id: int
    cid: str
    qty: Decimal
    price: Decimal
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    status: str = "NEW"
    fills: list[dict[str, str]] = field(default_factory=list)


class FakeBinance:
    id = "binance"

    def __init__(
        self,
        *,
        bids: list[tuple[str, str]] | None = None,
        asks: list[tuple[str, str]] | None = None,
        fee_rate: str = "0.001",
        fee_asset: str = "USDT",
        clock: ManualClock | None = None,
    ) -> None:
        self.verbose = False
        self.options: dict[str, Any] = {"recvWindow": 5000}
        self.last_response_headers: dict[str, str] | None = None
        self.bids = [(Decimal(p), Decimal(q)) for p, q in (bids or [("3000", "10")])]
        self.asks = [(Decimal(p), Decimal(q)) for p, q in (asks or [("3001", "10")])]
        self.fee_rate = Decimal(fee_rate)
        self.fee_asset = fee_asset
        self.clock = clock
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.faults: dict[str, deque[Any]] = defaultdict(deque)
        self.orders: list[FakeOrder] = []
        self.trades: list[dict[str, Any]] = []
        self.withdrawals: list[dict[str, Any]] = []
        self.deposits: list[dict[str, Any]] = []
        self.balances = {"ETH": Decimal("100"), "USDT": Decimal("0"), "BNB": Decimal("1")}
        self.currencies: dict[str, Any] = {
            "USDT": {
                "info": {
                    "coin": "USDT",
                    "networkList": [
                        {
                            "network": "ETH",
                            "withdrawIntegerMultiple": "0.000001",
                            "withdrawMin": "10",
                            "withdrawEnable": True,
                            "withdrawFee": "1",
                        }
                    ],
                }
            },
        }
        self.market_info = {
            "symbol": "ETHUSDT",
            "status": "TRADING",
            "baseAsset": "ETH",
            "quoteAsset": "USDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": "0.01000000", "minPrice": "0.01", "maxPrice": "1000000"},
                {"filterType": "LOT_SIZE", "stepSize": "0.00010000", "minQty": "0.00010000", "maxQty": "9000"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000"},
            ],
        }
        self._ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self.book_nonce = 1

    # -- scripting ------------------------------------------------------------------------
    def fault(self, method: str, *faults: Any) -> None:
        self.faults[method].extend(faults)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def _enter(self, method: str, *args: Any) -> str | None:
        self.calls.append((method, args))
        if not self.faults[method]:
            return None
        fault = self.faults[method].popleft()
        if isinstance(fault, BaseException):
            raise fault
        if fault == "timeout":
            raise ccxt.RequestTimeout("binance POST http://127.0.0.1/api/v3/order")
        return fault  # handled by the method ("lost", "empty", "open", ...)

    # -- markets --------------------------------------------------------------------------
    def load_markets(self, reload: bool = False) -> dict[str, Any]:
        self._enter("load_markets")
        return {"ETH/USDT": self.market("ETH/USDT")}

    def market(self, symbol: str) -> dict[str, Any]:
        if symbol != "ETH/USDT":
            raise ccxt.BadSymbol(f"binance does not have market symbol {symbol}")
        return {
            "symbol": symbol,
            "id": "ETHUSDT",
            "base": "ETH",
            "quote": "USDT",
            "active": True,
            "taker": 0.001,
            "precision": {"price": 0.01, "amount": 0.0001},
            "info": self.market_info,
        }

    def network_code_to_id(self, code: str, currency: str | None = None) -> str:
        return {"ERC20": "ETH"}.get(code, code)

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        fault = self._enter("fetch_order_book", symbol, limit)
        if fault == "empty":
            return {"bids": [], "asks": [], "nonce": None}
        self.book_nonce += 1
        return {
            "bids": [[float(p), float(q)] for p, q in self.bids if q > 0],
            "asks": [[float(p), float(q)] for p, q in self.asks],
            "nonce": self.book_nonce,
        }

    def fetch_ticker(self, symbol: str) -> dict[str, Any]:
        self._enter("fetch_ticker", symbol)
        prices = {"BNB/USDT": "600.5"}
        return {"symbol": symbol, "last": float(prices[symbol]), "info": {"lastPrice": prices[symbol]}}

    def fetch_balance(self) -> dict[str, Any]:
        self._enter("fetch_balance")
        raw = [{"asset": a, "free": str(v), "locked": "0"} for a, v in self.balances.items()]
        return {"info": {"balances": raw}, "free": {a: float(v) for a, v in self.balances.items()}}

    # -- orders ---------------------------------------------------------------------------
    def create_order(
        self, symbol: str, type: str, side: str, amount: Any, price: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = params or {}
        fault = self._enter("create_order", symbol, type, side, amount, price, dict(params))
        cid = params["clientOrderId"]
        qty, limit = Decimal(str(amount)), Decimal(str(price))
        if qty * limit < Decimal("5"):
            raise ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}')
        if qty > self.balances["ETH"]:
            raise ccxt.InsufficientFunds("binance Account has insufficient balance for requested action.")
        if fault == "open_lost":  # accepted, still matching when the answer was lost
            order = FakeOrder(next(self._ids), cid, qty, limit)
            self.orders.append(order)
            raise ccxt.RequestTimeout("binance POST http://127.0.0.1/api/v3/order")
        if fault == "steal":  # someone else takes half the bids between our book read and our order
            self.bids = [(p, q / 2) for p, q in self.bids]
        order = self._match(cid, qty, limit)
        if fault == "lost":
            raise ccxt.RequestTimeout("binance POST http://127.0.0.1/api/v3/order")
        if fault == "empty":
            return {"id": None, "status": None, "filled": 0.0, "info": {}}
        if fault == "no_fills":
            return self._order_dict(order, with_fills=False)
        return self._order_dict(order, with_fills=True)

    def _match(self, cid: str, qty: Decimal, limit: Decimal) -> FakeOrder:
        order = FakeOrder(next(self._ids), cid, qty, limit)
        remaining = qty
        new_bids = []
        for price, size in self.bids:
            if remaining > 0 and price >= limit and size > 0:
                take = min(size, remaining)
                remaining -= take
                size -= take
                commission = take * price * self.fee_rate if self.fee_asset == "USDT" else take * self.fee_rate
                fill = {
                    "price": str(price),
                    "qty": str(take),
                    "commission": str(commission),
                    "commissionAsset": self.fee_asset,
                    "tradeId": next(self._trade_ids),
                }
                order.fills.append(fill)
                order.executed += take
                order.quote += take * price
                self.trades.append(
                    {"orderId": order.order_id, "id": fill["tradeId"], **fill, "quoteQty": str(take * price)}
                )
            new_bids.append((price, size))
        self.bids = new_bids
        self.balances["ETH"] -= order.executed
        self.balances["USDT"] += order.quote
        order.status = "FILLED" if order.executed == qty else "EXPIRED"
        self.orders.append(order)
        return order

    def _order_dict(self, order: FakeOrder, *, with_fills: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "symbol": "ETHUSDT",
            "orderId": order.order_id,
            "clientOrderId": order.cid,
            "price": str(order.price),
            "origQty": str(order.qty),
            "executedQty": str(order.executed),
            "cummulativeQuoteQty": str(order.quote),
            "status": order.status,
            "timeInForce": "IOC",
            "type": "LIMIT",
            "side": "SELL",
        }
        if with_fills:
            info["fills"] = list(order.fills)
        unified = {"FILLED": "closed", "EXPIRED": "expired", "CANCELED": "canceled", "NEW": "open"}[order.status]
        return {
            "id": str(order.order_id),
            "clientOrderId": order.cid,
            "status": unified,
            "filled": float(order.executed),
            "cost": float(order.quote),
            "info": info,
        }

    def fetch_order(self, id: str | None, symbol: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        params = params or {}
        self._enter("fetch_order", id, symbol, dict(params))
        cid = params.get("clientOrderId")
        matches = [o for o in self.orders if o.cid == cid]
        if not matches:
            raise ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}')
        return self._order_dict(matches[-1], with_fills=False)

    def cancel_order(self, id: str | None, symbol: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        params = params or {}
        self._enter("cancel_order", id, symbol, dict(params))
        for order in self.orders:
            if order.cid == params.get("clientOrderId") and order.status == "NEW":
                order.status = "CANCELED"
                return self._order_dict(order, with_fills=False)
        raise ccxt.OrderNotFound('binance {"code":-2011,"msg":"Unknown order sent."}')

    def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        params = params or {}
        fault = self._enter("fetch_my_trades", symbol, since, limit, dict(params))
        if fault == "lagging":
            return []
        wanted = params.get("orderId")
        return [
            {"order": str(t["orderId"]), "info": {k: str(v) for k, v in t.items()}}
            for t in self.trades
            if wanted is None or str(t["orderId"]) == str(wanted)
        ]

    # -- transfers ------------------------------------------------------------------------
    def fetch_deposit_address(self, code: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._enter("fetch_deposit_address", code, dict(params or {}))
        return {"currency": code, "address": "0x00000000000000000000000000000000000000aa"}

    def fetch_deposits(
        self,
        code: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        self._enter("fetch_deposits", code, since, limit, dict(params or {}))
        status_words = {"0": "pending", "1": "ok", "6": "ok"}
        return [
            {
                "txid": d["txId"],
                "amount": float(d["amount"]),
                "status": status_words.get(d["status"], d["status"]),
                "info": dict(d),
            }
            for d in self.deposits
            if d["coin"] == code
        ]

    def withdraw(self, code: str, amount: Any, address: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        params = params or {}
        fault = self._enter("withdraw", code, amount, address, dict(params))
        if Decimal(str(amount)) > self.balances.get(code, Decimal(0)):
            raise ccxt.InsufficientFunds("binance Account has insufficient balance for requested action.")
        wid = f"w{len(self.withdrawals) + 1}"
        # Binance's history reports the amount net of the fee
        self.withdrawals.append(
            {
                "id": wid,
                "amount": str(Decimal(str(amount)) - 1),
                "transactionFee": "1",
                "coin": code,
                "status": 4,
                "address": address,
                "txId": "",
                "withdrawOrderId": params.get("withdrawOrderId"),
                "network": params.get("network"),
            }
        )
        self.balances[code] -= Decimal(str(amount))
        if fault == "lost":
            raise ccxt.ExchangeNotAvailable("binance 503 Service Unavailable")
        return {"id": wid, "info": {"id": wid}}

    def fetch_withdrawals(
        self,
        code: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        self._enter("fetch_withdrawals", code, since, limit, dict(params or {}))
        words = {0: "pending", 1: "canceled", 2: "pending", 3: "failed", 4: "pending", 5: "failed", 6: "ok"}
        return [
            {
                "id": w["id"],
                "txid": w["txId"] or None,
                "amount": float(w["amount"]),
                "status": words[w["status"]],
                "info": dict(w),
            }
            for w in self.withdrawals
            if w["coin"] == code
        ]
