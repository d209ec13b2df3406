"""The exchange's trading core: filters, balance locks, matching against the synthetic
book, order life cycle (NEW → PARTIALLY_FILLED → FILLED / CANCELED / EXPIRED), trades.

The synthetic book is the only counterparty. Taker orders walk it level by level and never
past their limit; resting GTC orders fill as makers, at their own price, once the book
moves through them (``sweep``). Client order ids are unique only among OPEN orders, as on
Binance: re-sending the id of an expired IOC creates a second order.
"""

from __future__ import annotations

import itertools
import secrets
import string
import time
from collections.abc import Mapping
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.devnet.exchange import apierrors
from bot.devnet.exchange.accounts import EIGHT, ZERO, Account, Fill, Order, Trade, fmt
from bot.devnet.exchange.book import BookLevel, SyntheticBook, quantize
from bot.devnet.exchange.config import DepthProfile, EmulatorConfig, MarketConfig
from bot.devnet.exchange.prices import PriceBoard

TIME_IN_FORCE = ("GTC", "IOC", "FOK")
ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER")
RESP_TYPES = ("ACK", "RESULT", "FULL")


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_decimal(params: Mapping[str, str], name: str, *, required: bool = True) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise apierrors.mandatory(name)
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise apierrors.bad_param(name) from None
    if not value.is_finite():
        raise apierrors.bad_param(name)
    return value


def parse_int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise apierrors.ApiError(
            400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ) from None


def _random_client_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(22))


def _multiple_of(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or (value / step) == (value / step).to_integral_value()


class Exchange:
    """All trading state. Callers hold ``self.lock`` (the server does it per request)."""

    def __init__(self, config: EmulatorConfig, prices: PriceBoard) -> None:
        self.config = config
        self.clock = config.clock
        self.markets: dict[str, MarketConfig] = {m.symbol: m for m in config.markets}
        self.books = {
            s: SyntheticBook(m, config.depth.get(s, DepthProfile()), self.clock) for s, m in self.markets.items()
        }
        self.prices = prices
        self.accounts: dict[str, Account] = {}
        self._order_ids = itertools.count(10_000_001)
        self._trade_ids = itertools.count(5_000_001)
        self._update_ids = itertools.count(1_000_000_001)
        self.last_price: dict[str, Decimal] = {}

    # -- lookups ------------------------------------------------------------------------
    def add_account(self, api_key: str, api_secret: str, balances: Mapping[str, Decimal] | None = None) -> Account:
        account = Account(api_key, api_secret)
        for asset, amount in (balances or {}).items():
            account.credit(asset, Decimal(amount))
        self.accounts[api_key] = account
        return account

    def market(self, symbol: str | None) -> MarketConfig:
        if not symbol:
            raise apierrors.mandatory("symbol")
        market = self.markets.get(symbol)
        if market is None:
            raise apierrors.invalid_symbol()
        return market

    def reference(self, symbol: str) -> Decimal:
        return self.prices.reference(symbol)

    def levels(self, symbol: str, side: str) -> list[BookLevel]:
        return self.books[symbol].levels(side, self.reference(symbol))

    # -- public data ----------------------------------------------------------------------
    def depth_json(self, symbol: str | None, limit: int | None) -> dict[str, Any]:
        market = self.market(symbol)
        self.sweep(market.symbol)
        limit = 100 if limit is None else limit
        if not 1 <= limit <= 5000:
            raise apierrors.ApiError(
                400, -1100, "Illegal characters found in parameter 'limit'; legal range is '1-5000'."
            )
        side_json = {}
        ref = self.reference(market.symbol)
        for side in ("bids", "asks"):
            side_json[side] = [
                [fmt(lv.price), fmt(lv.qty)] for lv in self.books[market.symbol].levels(side, ref, limit)
            ]
        return {"lastUpdateId": next(self._update_ids), "bids": side_json["bids"], "asks": side_json["asks"]}

    def ticker_json(self, symbol: str | None) -> dict[str, Any]:
        market = self.market(symbol)
        ref = self.reference(market.symbol)
        bids = self.books[market.symbol].levels("bids", ref, 1)
        asks = self.books[market.symbol].levels("asks", ref, 1)
        last = self.last_price.get(market.symbol, ref)
        trades = [t for a in self.accounts.values() for t in a.trades if t.symbol == market.symbol]
        volume = sum((t.qty for t in trades), ZERO)
        quote_volume = sum((t.qty * t.price for t in trades), ZERO)
        ms = now_ms()
        return {
            "symbol": market.symbol,
            "priceChange": fmt(last - ref),
            "priceChangePercent": f"{((last - ref) / ref * 100).quantize(Decimal('0.001')):f}",
            "weightedAvgPrice": fmt(quote_volume / volume if volume else ref),
            "prevClosePrice": fmt(ref),
            "lastPrice": fmt(last),
            "lastQty": fmt(trades[-1].qty if trades else ZERO),
            "bidPrice": fmt(bids[0].price if bids else ZERO),
            "bidQty": fmt(bids[0].qty if bids else ZERO),
            "askPrice": fmt(asks[0].price if asks else ZERO),
            "askQty": fmt(asks[0].qty if asks else ZERO),
            "openPrice": fmt(ref),
            "highPrice": fmt(max([ref, last])),
            "lowPrice": fmt(min([ref, last])),
            "volume": fmt(volume),
            "quoteVolume": fmt(quote_volume),
            "openTime": ms - 86_400_000,
            "closeTime": ms,
            "firstId": trades[0].trade_id if trades else -1,
            "lastId": trades[-1].trade_id if trades else -1,
            "count": len(trades),
        }

    # -- orders -----------------------------------------------------------------------------
    def _validate(self, market: MarketConfig, *, price: Decimal | None, qty: Decimal | None) -> None:
        if price is not None and (
            price < market.price_min or price > market.max_price or not _multiple_of(price, market.tick_size)
        ):
            raise apierrors.filter_failure("PRICE_FILTER")
        if qty is not None and (
            qty < market.lot_min or qty > market.max_qty or not _multiple_of(qty, market.step_size)
        ):
            raise apierrors.filter_failure("LOT_SIZE")

    def _check_notional(self, market: MarketConfig, notional: Decimal) -> None:
        if notional < market.min_notional or notional > market.max_notional:
            raise apierrors.filter_failure("NOTIONAL")

    def place_order(
        self, account: Account, params: Mapping[str, str], *, fill_fraction: Decimal | None = None
    ) -> dict[str, Any]:
        market = self.market(params.get("symbol"))
        self.sweep(market.symbol)
        side = params.get("side") or ""
        if not side:
            raise apierrors.mandatory("side")
        if side not in ("BUY", "SELL"):
            raise apierrors.ApiError(400, -1117, "Invalid side.")
        order_type = params.get("type") or ""
        if not order_type:
            raise apierrors.mandatory("type")
        if order_type not in ORDER_TYPES:
            raise apierrors.ApiError(400, -1116, "Invalid orderType.")
        resp_type = params.get("newOrderRespType") or "FULL"
        if resp_type not in RESP_TYPES:
            raise apierrors.ApiError(400, -1100, "Illegal characters found in parameter 'newOrderRespType'.")
        quote_qty: Decimal | None = None
        if order_type == "MARKET":
            qty = parse_decimal(params, "quantity", required=False)
            quote_qty = parse_decimal(params, "quoteOrderQty", required=False)
            if qty is None and quote_qty is None:
                raise apierrors.ApiError(
                    400, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
                )
            price, tif = None, "GTC"
        else:
            qty = parse_decimal(params, "quantity")
            price = parse_decimal(params, "price")
            if order_type == "LIMIT":
                tif = params.get("timeInForce") or ""
                if not tif:
                    raise apierrors.mandatory("timeInForce")
                if tif not in TIME_IN_FORCE:
                    raise apierrors.ApiError(400, -1115, "Invalid timeInForce.")
            else:
                tif = "GTC"
        self._validate(market, price=price, qty=qty)
        ref = self.reference(market.symbol)
        if quote_qty is not None and qty is None:
            self._check_notional(market, quote_qty)
        else:
            self._check_notional(market, (price if price is not None else ref) * qty)
        client_id = params.get("newClientOrderId") or _random_client_id()
        if account.open_order_by_client_id(market.symbol, client_id) is not None:
            raise apierrors.new_order_rejected("Duplicate order sent.")

        book_side = "bids" if side == "SELL" else "asks"
        levels = self.books[market.symbol].levels(book_side, ref)
        crossing = [
            lv
            for lv in levels
            if lv.qty > 0 and (price is None or (lv.price >= price if side == "SELL" else lv.price <= price))
        ]
        if order_type == "LIMIT_MAKER" and crossing:
            raise apierrors.new_order_rejected("Order would immediately match and take.")

        # lock what the order may spend
        if side == "SELL":
            lock_asset, lock_amount = market.base, qty
        elif price is not None:
            lock_asset, lock_amount = market.quote, qty * price
        elif quote_qty is not None and qty is None:
            lock_asset, lock_amount = market.quote, quote_qty
        else:
            lock_asset, lock_amount = market.quote, self._cost_to_buy(crossing, qty)
        account.lock(lock_asset, lock_amount)

        ms = now_ms()
        order = Order(
            order_id=next(self._order_ids),
            client_order_id=client_id,
            symbol=market.symbol,
            side=side,
            type=order_type,
            time_in_force=tif,
            price=price or ZERO,
            orig_qty=qty or ZERO,
            time_ms=ms,
            orig_quote_qty=quote_qty or ZERO,
            locked=lock_amount,
        )
        account.add_order(order)

        if order_type != "LIMIT_MAKER":
            plan = self._plan_fills(
                market, crossing, qty=qty, quote_qty=quote_qty if qty is None else None, fill_fraction=fill_fraction
            )
            plan_qty = sum((q for _, q in plan), ZERO)
            if tif == "FOK" and plan_qty < order.orig_qty:
                plan = []
            for level, take in plan:
                self.books[market.symbol].consume(book_side, ref, level.index, take)
                self._book_fill(account, market, order, level.price, take, maker=False)
        if order.orig_qty == ZERO:  # a quote-sized market buy: its quantity is what filled
            order.orig_qty = order.executed_qty
        self._finish_taker(account, market, order)
        return order.new_order_json(resp_type)

    def _cost_to_buy(self, crossing: list[BookLevel], qty: Decimal) -> Decimal:
        remaining, cost = qty, ZERO
        for level in crossing:
            take = min(level.qty, remaining)
            cost += take * level.price
            remaining -= take
            if remaining <= 0:
                break
        return cost

    def _plan_fills(
        self,
        market: MarketConfig,
        crossing: list[BookLevel],
        *,
        qty: Decimal | None,
        quote_qty: Decimal | None,
        fill_fraction: Decimal | None,
    ) -> list[tuple[BookLevel, Decimal]]:
        if qty is not None and fill_fraction is not None:
            qty = quantize(qty * fill_fraction, market.step_size, ROUND_DOWN)
        if quote_qty is not None and fill_fraction is not None:
            quote_qty = quote_qty * fill_fraction
        plan = []
        for level in crossing:
            if qty is not None:
                take = min(level.qty, qty)
                qty -= take
            else:
                take = min(level.qty, quantize(quote_qty / level.price, market.step_size, ROUND_DOWN))
                quote_qty -= take * level.price
            if take > 0:
                plan.append((level, take))
            if (qty is not None and qty <= 0) or (quote_qty is not None and take < level.qty):
                break
        return plan

    def _book_fill(
        self, account: Account, market: MarketConfig, order: Order, price: Decimal, qty: Decimal, *, maker: bool
    ) -> None:
        rate = self.config.maker_fee if maker else self.config.taker_fee
        quote = price * qty
        if order.side == "SELL":
            commission = (quote * rate).quantize(EIGHT, rounding=ROUND_HALF_UP)
            commission_asset = market.quote
            account.spend_locked(market.base, qty)
            order.locked -= qty
            account.credit(market.quote, quote - commission)
        else:
            commission = (qty * rate).quantize(EIGHT, rounding=ROUND_HALF_UP)
            commission_asset = market.base
            reserved = qty * order.price if order.price > 0 else quote
            reserved = min(reserved, order.locked)
            account.spend_locked(market.quote, reserved)
            order.locked -= reserved
            account.credit(market.quote, reserved - quote)  # price improvement back to free
            account.credit(market.base, qty - commission)
        trade_id = next(self._trade_ids)
        ms = now_ms()
        order.fills.append(Fill(price, qty, commission, commission_asset, trade_id))
        order.executed_qty += qty
        order.cum_quote += quote
        order.update_ms = ms
        account.update_ms = ms
        account.trades.append(
            Trade(
                trade_id,
                order.order_id,
                market.symbol,
                price,
                qty,
                commission,
                commission_asset,
                ms,
                is_buyer=order.side == "BUY",
                is_maker=maker,
            )
        )
        self.last_price[market.symbol] = price

    def _release(self, account: Account, market: MarketConfig, order: Order) -> None:
        if order.locked > 0:
            account.unlock(market.base if order.side == "SELL" else market.quote, order.locked)
            order.locked = ZERO

    def _finish_taker(self, account: Account, market: MarketConfig, order: Order) -> None:
        if order.executed_qty >= order.orig_qty and order.executed_qty > 0:
            order.status = "FILLED"
            self._release(account, market, order)
        elif order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
            order.status = "EXPIRED"  # partial or no fill: Binance expires the rest
            self._release(account, market, order)
        else:
            order.status = "PARTIALLY_FILLED" if order.executed_qty > 0 else "NEW"
            account.resting[order.order_id] = order

    def sweep(self, symbol: str) -> None:
        """Fill resting orders the book has moved through, as makers at their own price."""
        resting = [(a, o) for a in self.accounts.values() for o in a.open_orders(symbol)]
        if not resting:
            return
        market = self.markets[symbol]
        ref = self.reference(symbol)
        book = self.books[symbol]
        for account, order in resting:
            book_side = "bids" if order.side == "SELL" else "asks"
            for level in book.levels(book_side, ref):
                crosses = level.price >= order.price if order.side == "SELL" else level.price <= order.price
                if not crosses or order.remaining <= 0:
                    break
                take = min(level.qty, order.remaining)
                if take <= 0:
                    continue
                book.consume(book_side, ref, level.index, take)
                self._book_fill(account, market, order, order.price, take, maker=True)
            if order.executed_qty > 0:
                order.status = "FILLED" if order.remaining <= 0 else "PARTIALLY_FILLED"
                if order.status == "FILLED":
                    self._release(account, market, order)

    def find(self, account: Account, params: Mapping[str, str]) -> tuple[MarketConfig, Order | None]:
        market = self.market(params.get("symbol"))
        order_id = parse_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise apierrors.ApiError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        return market, account.find_order(market.symbol, order_id, client_id)

    def query_order(self, account: Account, params: Mapping[str, str]) -> dict[str, Any]:
        market, order = self.find(account, params)
        self.sweep(market.symbol)
        if order is None:
            raise apierrors.order_does_not_exist()
        return order.query_json()

    def cancel_order(self, account: Account, params: Mapping[str, str]) -> dict[str, Any]:
        market, order = self.find(account, params)
        self.sweep(market.symbol)
        if order is None or not order.is_open:
            raise apierrors.unknown_order_sent()
        order.status = "CANCELED"
        order.update_ms = now_ms()
        self._release(account, market, order)
        return order.cancel_json(params.get("newClientOrderId") or _random_client_id(), order.update_ms)

    def open_orders(self, account: Account, params: Mapping[str, str]) -> list[dict[str, Any]]:
        symbols = [self.market(params["symbol"]).symbol] if params.get("symbol") else list(self.markets)
        for symbol in symbols:
            self.sweep(symbol)
        return [o.query_json() for o in account.open_orders() if o.symbol in symbols]

    def all_orders(self, account: Account, params: Mapping[str, str]) -> list[dict[str, Any]]:
        market = self.market(params.get("symbol"))
        self.sweep(market.symbol)
        orders = [o for o in account.orders.values() if o.symbol == market.symbol]
        order_id, start, end = (
            parse_int(params, "orderId"),
            parse_int(params, "startTime"),
            parse_int(params, "endTime"),
        )
        if order_id is not None:
            orders = [o for o in orders if o.order_id >= order_id]
        if start is not None:
            orders = [o for o in orders if o.time_ms >= start]
        if end is not None:
            orders = [o for o in orders if o.time_ms <= end]
        limit = min(parse_int(params, "limit") or 500, 1000)
        return [o.query_json() for o in orders[:limit]]

    def my_trades(self, account: Account, params: Mapping[str, str]) -> list[dict[str, Any]]:
        market = self.market(params.get("symbol"))
        self.sweep(market.symbol)
        trades = [t for t in account.trades if t.symbol == market.symbol]
        order_id, from_id = parse_int(params, "orderId"), parse_int(params, "fromId")
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id]
        if start is not None:
            trades = [t for t in trades if t.time_ms >= start]
        if end is not None:
            trades = [t for t in trades if t.time_ms <= end]
        limit = min(parse_int(params, "limit") or 500, 1000)
        if start is None and end is None and from_id is None and order_id is None:
            trades = trades[-limit:]  # the most recent ones
        return [t.as_json() for t in trades[:limit]]

    def account_json(self, account: Account) -> dict[str, Any]:
        for symbol in self.markets:
            self.sweep(symbol)
        maker, taker = self.config.maker_fee, self.config.taker_fee
        return {
            "makerCommission": int(maker * 10_000),
            "takerCommission": int(taker * 10_000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": fmt(maker), "taker": fmt(taker), "buyer": fmt(ZERO), "seller": fmt(ZERO)},
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": account.update_ms,
            "accountType": "SPOT",
            "balances": account.balances_json(),
            "permissions": ["SPOT"],
            "uid": 100_000_001,
        }

    def exchange_info_json(self) -> dict[str, Any]:
        symbols = []
        for m in self.markets.values():
            symbols.append(
                {
                    "symbol": m.symbol,
                    "status": "TRADING",
                    "baseAsset": m.base,
                    "baseAssetPrecision": m.base_precision,
                    "quoteAsset": m.quote,
                    "quotePrecision": m.quote_precision,
                    "quoteAssetPrecision": m.quote_precision,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": False,
                    "ocoAllowed": False,
                    "otoAllowed": False,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": False,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": fmt(m.price_min),
                            "maxPrice": fmt(m.max_price),
                            "tickSize": fmt(m.tick_size),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": fmt(m.lot_min),
                            "maxQty": fmt(m.max_qty),
                            "stepSize": fmt(m.step_size),
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": fmt(m.min_notional),
                            "applyMinToMarket": True,
                            "maxNotional": fmt(m.max_notional),
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }
