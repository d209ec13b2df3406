"""``bot.ports.Venue`` on the unmodified ``ccxt.binance`` client (real Binance or a
Binance-compatible server such as the devnet emulator).

Money is Decimal, read from the exchange's own strings where ccxt keeps them. Every write is
keyed: orders by ``client_order_id(key, n)``, withdrawals by ``withdraw_order_id(key)``; a
write without a definite answer is reconciled by that id, never re-sent blind. Exceptions
are ``bot.errors`` only (see ``errors.translate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import ccxt

from bot.adapters.venue.calls import Calls, MalformedResponse, SendLog
from bot.adapters.venue.client import DEFAULT_RECV_WINDOW_MS, DEFAULT_TIMEOUT_MS, build_binance_client
from bot.adapters.venue.fills import dec
from bot.adapters.venue.orders import OrderDesk, SellLimits
from bot.adapters.venue.transfers import DEFAULT_LOOKBACK_S, TransferDesk
from bot.clock import SystemClock
from bot.domain.book import Level, OrderBook
from bot.errors import ConfigError, Rejected
from bot.ports import Clock, MarketRules, SellResult, Transfer

IN_FLIGHT_GRACE_S = 1.0  # added to recvWindow: clock skew between us and the exchange


class CcxtVenue:
    """The exchange leg. Construct with a ready ccxt client (see ``client.build_binance_client``)
    or with ``CcxtVenue.connect(...)``."""

    def __init__(
        self,
        client: Any,
        *,
        withdrawal_allowlist: Iterable[str] = (),
        clock: Clock | None = None,
        in_flight_window_s: float | None = None,
        transfer_lookback_s: float = DEFAULT_LOOKBACK_S,
        sell_limits: SellLimits = SellLimits(),
        read_attempts: int = 4,
        read_backoff_s: float = 0.25,
    ) -> None:
        if getattr(client, "verbose", False):
            raise ConfigError("the ccxt client must not be verbose: it logs signed requests")
        if in_flight_window_s is None:
            recv_window_ms = (getattr(client, "options", None) or {}).get("recvWindow") or DEFAULT_RECV_WINDOW_MS
            in_flight_window_s = recv_window_ms / 1000 + IN_FLIGHT_GRACE_S
        self._client = client
        self._calls = Calls(
            client,
            clock or SystemClock(),
            in_flight_window_s=in_flight_window_s,
            read_attempts=read_attempts,
            read_backoff_s=read_backoff_s,
        )
        self._orders = OrderDesk(
            self._calls, order_book=self.order_book, price_in_quote=self._price_in_quote, limits=sell_limits
        )
        self._transfers = TransferDesk(self._calls, allowlist=withdrawal_allowlist, lookback_s=transfer_lookback_s)
        self._rules: dict[str, MarketRules] = {}
        self._last_book_nonce: dict[str, int] = {}

    @classmethod
    def connect(
        cls,
        *,
        api_key: str | None,
        api_secret: str | None,
        api_url: str | None = None,
        withdrawal_allowlist: Iterable[str] = (),
        clock: Clock | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
        enable_rate_limit: bool = True,
        **kwargs: Any,
    ) -> CcxtVenue:
        client = build_binance_client(
            api_key=api_key,
            api_secret=api_secret,
            api_url=api_url,
            timeout_ms=timeout_ms,
            recv_window_ms=recv_window_ms,
            enable_rate_limit=enable_rate_limit,
        )
        return cls(client, withdrawal_allowlist=withdrawal_allowlist, clock=clock, **kwargs)

    def record_sends_in(self, log: SendLog) -> None:
        """Record each keyed write (order, withdrawal) in ``log`` before sending it, and read it
        back after a restart: a lookup then waits only what is left of the in-flight window."""
        self._calls.record_sends_in(log)

    def __repr__(self) -> str:  # never the client (it holds the API secret)
        return f"CcxtVenue({getattr(self._client, 'id', '?')})"

    # -- market data -------------------------------------------------------------------
    def rules(self, symbol: str) -> MarketRules:
        if symbol not in self._rules:
            self._rules[symbol] = self._load_rules(symbol)
        return self._rules[symbol]

    def order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        return self._calls.read(self._fetch_book, symbol, depth)

    def recent_prices(self, symbol: str, *, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        return self._calls.read(self._fetch_closes, symbol, timeframe, limit)

    def balances(self) -> dict[str, Decimal]:
        balance = self._calls.read(self._client.fetch_balance)
        info = balance.get("info") if isinstance(balance, dict) else None
        raw = info.get("balances") if isinstance(info, dict) else None
        if isinstance(raw, list):
            return {str(b["asset"]): dec(b.get("free"), f"{b.get('asset')} free") for b in raw if b.get("asset")}
        free = balance.get("free") if isinstance(balance, dict) else None
        if not isinstance(free, dict):
            raise Rejected("balance answer has no free balances", reason="exchange_error")
        return {coin: dec(amount, f"{coin} free") for coin, amount in free.items() if amount is not None}

    # -- selling -----------------------------------------------------------------------
    def sell(self, *, key: str, symbol: str, qty: Decimal, floor_price: Decimal) -> SellResult:
        rules = self.rules(symbol)
        return self._orders.sell(key=key, rules=rules, qty=qty, floor_price=floor_price)

    def sell_status(self, *, key: str, symbol: str, wait_in_flight: bool = False) -> SellResult:
        """What has been sold under ``key`` so far (orders found by id), sending nothing. It does
        not wait out the in-flight window unless asked (see ``OrderDesk.status``)."""
        return self._orders.status(key=key, rules=self.rules(symbol), wait_in_flight=wait_in_flight)

    # -- transfers ---------------------------------------------------------------------
    def deposit_address(self, coin: str, network: str) -> str:
        return self._transfers.deposit_address(coin, network)

    def deposit(self, *, coin: str, txid: str) -> Transfer:
        return self._transfers.deposit(coin=coin, txid=txid)

    def wait_for_deposit(self, *, coin: str, txid: str, timeout_s: float, poll_s: float = 5.0) -> Transfer:
        return self._transfers.wait_for_deposit(coin=coin, txid=txid, timeout_s=timeout_s, poll_s=poll_s)

    def withdraw(self, *, key: str, coin: str, amount: Decimal, address: str, network: str) -> Transfer:
        return self._transfers.withdraw(key=key, coin=coin, amount=amount, address=address, network=network)

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        return self._transfers.withdrawal(key=key, coin=coin)

    def withdrawal_ids_to(self, coin: str, address: str) -> tuple[str, ...]:
        """This bot's past withdrawals of ``coin`` to ``address`` (their withdrawOrderIds)."""
        return self._transfers.withdrawal_ids_to(coin, address)

    # -- helpers -----------------------------------------------------------------------
    def _load_rules(self, symbol: str) -> MarketRules:
        self._calls.read(self._client.load_markets)
        try:
            market = self._client.market(symbol)
        except ccxt.BadSymbol:
            raise ConfigError(f"the exchange lists no market {symbol}") from None
        if market.get("active") is False:
            raise Rejected(f"market {symbol} is not trading", reason="market_closed")
        info = market.get("info") if isinstance(market.get("info"), dict) else {}
        filters = {f.get("filterType"): f for f in info.get("filters") or [] if isinstance(f, dict)}
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        try:
            tick = dec(filters.get("PRICE_FILTER", {}).get("tickSize", precision.get("price")), "tickSize")
            step = dec(filters.get("LOT_SIZE", {}).get("stepSize", precision.get("amount")), "stepSize")
            min_qty = dec(
                filters.get("LOT_SIZE", {}).get("minQty", (limits.get("amount") or {}).get("min") or 0), "minQty"
            )
            notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
            min_notional = dec(notional.get("minNotional", (limits.get("cost") or {}).get("min") or 0), "minNotional")
            taker = dec(market.get("taker") or 0, "taker fee")
        except MalformedResponse as exc:
            raise Rejected(f"market {symbol}: rules unreadable ({exc})", reason="market_rules_missing") from None
        if tick <= 0 or step <= 0:
            raise Rejected(f"market {symbol}: no tick or lot step", reason="market_rules_missing")
        return MarketRules(
            symbol=symbol,
            base=str(market["base"]),
            quote=str(market["quote"]),
            tick_size=tick.normalize(),
            step_size=step.normalize(),
            min_qty=min_qty,
            min_notional=min_notional,
            taker_fee=taker,
        )

    def _fetch_book(self, symbol: str, depth: int) -> OrderBook:
        """One book read, validated: an empty, unsorted, crossed or older book is refused."""
        raw = self._client.fetch_order_book(symbol, depth)
        if not isinstance(raw, dict):
            raise MalformedResponse("order book answer is not an object")
        bids, asks = _levels(raw.get("bids"), "bid"), _levels(raw.get("asks"), "ask")
        if not bids:
            raise MalformedResponse(f"{symbol} book has no bids")  # ccxt's answer to a non-JSON body
        if asks and asks[0].price <= bids[0].price:
            raise MalformedResponse(f"{symbol} book is crossed")
        nonce = raw.get("nonce")
        if isinstance(nonce, int):
            if nonce < self._last_book_nonce.get(symbol, -1):
                raise MalformedResponse(f"{symbol} book is older than one already seen")
            self._last_book_nonce[symbol] = nonce
        try:
            return OrderBook(symbol, tuple(bids), tuple(asks), int(self._calls.clock.now() * 1000))
        except ValueError as exc:
            raise MalformedResponse(f"{symbol} book: {exc}") from None

    def _fetch_closes(self, symbol: str, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        """One klines read, validated: rising open times, positive closes, at most ``limit``."""
        raw = self._client.fetch_ohlcv(symbol, timeframe, None, limit)
        if not isinstance(raw, list):
            raise MalformedResponse("candles answer is not a list")
        span_s = int(ccxt.Exchange.parse_timeframe(timeframe))
        closes: list[tuple[int, Decimal]] = []
        for bar in raw[-limit:]:
            if not isinstance(bar, (list, tuple)) or len(bar) < 5 or not isinstance(bar[0], int):
                raise MalformedResponse(f"a {symbol} candle is malformed")
            close = dec(bar[4], f"{symbol} candle close")
            at = bar[0] // 1000 + span_s  # the candle's close time (the one in progress too)
            if close <= 0 or (closes and at <= closes[-1][0]):
                raise MalformedResponse(f"{symbol} candles are out of order or not positive")
            closes.append((at, close))
        return tuple(closes)

    def _price_in_quote(self, asset: str, quote: str) -> Decimal:
        ticker = self._calls.read(self._client.fetch_ticker, f"{asset}/{quote}")
        info = ticker.get("info") if isinstance(ticker.get("info"), dict) else {}
        price = dec(info.get("lastPrice", ticker.get("last")), f"{asset}/{quote} last price")
        if price <= 0:
            raise Rejected(f"no price for {asset}/{quote} to value a fee", reason="exchange_error")
        return price


def _levels(raw: Any, side: str) -> list[Level]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MalformedResponse(f"{side}s are not a list")
    levels = []
    for entry in raw:
        if not isinstance(entry, (list, tuple)) or len(entry) < 2:
            raise MalformedResponse(f"a {side} level is malformed")
        price, qty = dec(entry[0], f"{side} price"), dec(entry[1], f"{side} qty")
        if price <= 0 or qty <= 0:
            raise MalformedResponse(f"a {side} level has a non-positive price or size")
        levels.append(Level(price, qty))
    return levels
