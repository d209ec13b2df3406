"""The sell state machine: IOC limit sells at a floor price, resumable by step key.

Client order ids are ``client_order_id(key, n)`` for n = 0, 1, 2, …, used strictly in order:
id n+1 is sent only once id n is booked. So after a crash, a lost response or an exception,
everything ever sold for a key is found by probing ids 0, 1, … until the first one the
exchange conclusively does not know. A sell then continues from those booked fills.

An order POST with no definite answer is never re-sent blind: Binance enforces client-id
uniqueness only among OPEN orders, and an IOC order is never open afterwards, so the same id
sent twice can sell twice. It is looked up by id; "not found" counts only once the in-flight
window has passed (see ``calls``); only then is it re-sent, under the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import ccxt

from bot.adapters.venue import fills as fills_mod
from bot.adapters.venue.calls import Calls, MalformedResponse, WriteOutcomeUnknown
from bot.adapters.venue.fills import BookedOrder, OrderState, plain, round_down, round_up
from bot.adapters.venue.ids import MAX_ATTEMPT, client_order_id
from bot.domain.book import OrderBook, walk_bids
from bot.errors import GuardRefused, OutcomeUnknown, RateLimited, Rejected, Retryable, VenueUnreachable
from bot.ports import MarketRules, SellResult


@dataclass(frozen=True, slots=True)
class SellLimits:
    max_orders_per_call: int = 50
    max_zero_fill_orders: int = 3  # consecutive IOCs that fill nothing: the book is not what it shows
    max_resends: int = 2  # re-sends of one id after a conclusive "not found"
    trade_lookups: int = 3  # myTrades reads while fills are not visible yet


def tradable(qty: Decimal, price: Decimal, rules: MarketRules) -> bool:
    """Whether an order of ``qty`` at ``price`` passes the lot and notional filters."""
    return (
        qty > 0
        and qty >= rules.min_qty
        and qty == round_down(qty, rules.step_size)
        and qty * price >= rules.min_notional
    )


class OrderDesk:
    def __init__(
        self,
        calls: Calls,
        *,
        order_book: Callable[[str], OrderBook],
        price_in_quote: Callable[[str, str], Decimal],
        limits: SellLimits = SellLimits(),
    ) -> None:
        self._calls = calls
        self._client = calls.client
        self._order_book = order_book
        self._price_in_quote = price_in_quote
        self._limits = limits

    # -- public ------------------------------------------------------------------------
    def sell(self, *, key: str, rules: MarketRules, qty: Decimal, floor_price: Decimal) -> SellResult:
        if qty <= 0 or floor_price <= 0:
            raise GuardRefused(
                f"sell needs a positive quantity and floor price, got {qty} at {floor_price}", reason="bad_arguments"
            )
        floor = round_up(floor_price, rules.tick_size)  # never below the cap
        requested = round_down(qty, rules.step_size)
        booked, attempt = self.reconcile(key=key, rules=rules)
        filled = sum((b.filled for b in booked), Decimal(0))
        if not booked and not tradable(requested, floor, rules):
            raise GuardRefused(
                f"{qty} {rules.base} at {floor} is below the exchange minimums "
                f"(step {rules.step_size}, min qty {rules.min_qty}, min notional {rules.min_notional})",
                reason="below_minimums",
            )
        exhausted = False
        zero_fills = 0
        sent = 0
        while True:
            remaining = round_down(requested - filled, rules.step_size)
            if not tradable(remaining, floor, rules):
                break  # done, or only dust below the minimums is left
            if sent >= self._limits.max_orders_per_call:
                break
            if zero_fills >= self._limits.max_zero_fill_orders:
                exhausted = True
                break
            book = self._order_book(rules.symbol)
            size = round_down(walk_bids(book.bids, remaining, limit_price=floor).qty, rules.step_size)
            if not tradable(size, floor, rules):
                exhausted = True  # the depth left above the floor is below the minimums
                break
            order = self._place(key=key, attempt=attempt, rules=rules, qty=size, price=floor)
            booked.append(order)
            filled += order.filled
            attempt += 1
            sent += 1
            zero_fills = zero_fills + 1 if order.filled == 0 else 0
        return _result(key, requested, booked, exhausted)

    def status(self, *, key: str, rules: MarketRules, wait_in_flight: bool = False) -> SellResult:
        """Everything booked so far under ``key``, without sending anything.

        A status read takes "not found" at face value (e.g. the executor's check that a key
        no journal has used is unused: nothing of ours can be in flight under it), so it does
        not wait out the in-flight window; ``wait_in_flight=True`` does, as ``sell`` must
        before it sends."""
        booked, _ = self.reconcile(key=key, rules=rules, wait_in_flight=wait_in_flight)
        filled = sum((b.filled for b in booked), Decimal(0))
        return _result(key, filled, booked, False)

    def reconcile(self, *, key: str, rules: MarketRules, wait_in_flight: bool = True) -> tuple[list[BookedOrder], int]:
        """Book every order already placed under ``key``; return them and the next attempt."""
        booked: list[BookedOrder] = []
        for attempt in range(MAX_ATTEMPT + 1):
            cid = client_order_id(key, attempt)
            order = self._lookup(cid, rules, wait_in_flight=wait_in_flight)
            if order is None:
                return booked, attempt
            booked.append(order)
        raise OutcomeUnknown(f"sell {key!r}: more than {MAX_ATTEMPT} orders under one key")

    # -- one attempt -------------------------------------------------------------------
    def _place(self, *, key: str, attempt: int, rules: MarketRules, qty: Decimal, price: Decimal) -> BookedOrder:
        cid = client_order_id(key, attempt)
        params = {"timeInForce": "IOC", "clientOrderId": cid}
        for _ in range(self._limits.max_resends + 1):
            try:
                answer = self._calls.write(
                    cid, self._client.create_order, rules.symbol, "limit", "sell", plain(qty), plain(price), params
                )
            except WriteOutcomeUnknown:
                found = self._lookup(cid, rules)
                if found is None:
                    continue  # conclusively never reached the exchange: same id again
                return found
            try:
                state = fills_mod.order_state(answer, expected_client_order_id=cid)
                if not state.is_terminal:
                    raise MalformedResponse(f"IOC order {cid} answered status {state.status}")
                fills = fills_mod.fills_in_create_answer(answer)
                if fills is None or sum((f.qty for f in fills), Decimal(0)) != state.executed_qty:
                    return self._book_with_trades(state, rules)
                return self._book(state, fills, rules)
            except MalformedResponse:
                # An answer we cannot book (e.g. 200 {}): the exchange's own record decides.
                found = self._lookup(cid, rules)
                if found is None:
                    raise OutcomeUnknown(f"order {cid}: answer unreadable and the order is not found") from None
                return found
        raise OutcomeUnknown(f"order {cid}: not placed after {self._limits.max_resends + 1} sends")

    def _lookup(self, cid: str, rules: MarketRules, *, wait_in_flight: bool = True) -> BookedOrder | None:
        """The booked order with client id ``cid``, or None when conclusively absent (or, with
        ``wait_in_flight=False``, absent now)."""
        for _ in range(3):
            try:
                raw = self._calls.read(
                    self._client.fetch_order,
                    None,
                    rules.symbol,
                    {"clientOrderId": cid},
                    passthrough=(ccxt.OrderNotFound,),
                )
            except ccxt.OrderNotFound:
                if not wait_in_flight or self._calls.is_conclusive(cid):
                    return None
                self._calls.wait_until_conclusive(cid)
                continue
            except RateLimited:
                raise  # the caller waits; a later call reconciles from the start
            except Retryable as exc:
                raise VenueUnreachable(f"order {cid}: lookup failed ({exc}); reconcile later") from None
            except Rejected as exc:
                raise OutcomeUnknown(f"order {cid}: lookup failed ({exc}); reconcile later") from None
            try:
                state = fills_mod.order_state(raw, expected_client_order_id=cid)
            except MalformedResponse as exc:
                raise OutcomeUnknown(f"order {cid}: lookup answer unreadable ({exc})") from None
            if not state.is_terminal:
                state = self._finish_open_order(cid, rules, state)
            return self._book_with_trades(state, rules)
        raise OutcomeUnknown(f"order {cid}: lookup inconclusive")

    def _finish_open_order(self, cid: str, rules: MarketRules, state: OrderState) -> OrderState:
        """An IOC order seen open is still being matched: cancel what is left and re-read."""
        try:
            self._calls.write(f"cancel:{cid}", self._client.cancel_order, None, rules.symbol, {"clientOrderId": cid})
        except (WriteOutcomeUnknown, Rejected, Retryable):
            pass  # finished meanwhile ("Unknown order sent.") or unclear: the re-read decides
        try:
            raw = self._calls.read(self._client.fetch_order, None, rules.symbol, {"clientOrderId": cid})
            state = fills_mod.order_state(raw, expected_client_order_id=cid)
        except RateLimited:
            raise
        except Retryable as exc:
            raise VenueUnreachable(f"order {cid}: open and unreadable ({exc})") from None
        except MalformedResponse as exc:
            raise OutcomeUnknown(f"order {cid}: open and unreadable ({exc})") from None
        if not state.is_terminal:
            raise OutcomeUnknown(f"order {cid}: still {state.status} after cancel")
        return state

    def _book_with_trades(self, state: OrderState, rules: MarketRules) -> BookedOrder:
        if state.executed_qty == 0:
            return self._book(state, [], rules)
        last_error: MalformedResponse | None = None
        for _ in range(self._limits.trade_lookups):
            try:
                trades = self._calls.read(
                    self._client.fetch_my_trades, rules.symbol, None, None, {"orderId": state.order_id}
                )
            except RateLimited:
                raise
            except Retryable as exc:
                raise VenueUnreachable(f"order {state.client_order_id}: trades unreadable ({exc})") from None
            try:
                return self._book(state, fills_mod.fills_in_trades(trades, state.order_id), rules)
            except MalformedResponse as exc:
                last_error = exc
                self._calls.clock.sleep(0.2)
        raise OutcomeUnknown(f"order {state.client_order_id}: cannot book its fills exactly ({last_error})")

    def _book(self, state: OrderState, fills: list[fills_mod.TradeFill], rules: MarketRules) -> BookedOrder:
        return fills_mod.book_order(
            state,
            fills,
            base=rules.base,
            quote=rules.quote,
            price_in_quote=lambda asset: self._price_in_quote(asset, rules.quote),
        )


def _result(key: str, requested: Decimal, booked: list[BookedOrder], exhausted: bool) -> SellResult:
    return SellResult(
        key=key,
        requested=requested,
        filled=sum((b.filled for b in booked), Decimal(0)),
        gross_quote=sum((b.gross_quote for b in booked), Decimal(0)),
        fee_quote=sum((b.fee_quote for b in booked), Decimal(0)),
        client_order_ids=tuple(b.client_order_id for b in booked),
        exhausted=exhausted,
    )
