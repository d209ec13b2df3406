"""Exact booking of an order from the exchange's own strings (ccxt's unified numbers are
floats; the raw ``info`` strings are not). Pure functions, no I/O.

An IOC sell ends FILLED (all), EXPIRED with executedQty > 0 (partial) or EXPIRED with 0
(nothing). Quantity and quote come from the order (executedQty, cummulativeQuoteQty);
fees from its fills: the FULL create response carries them, otherwise myTrades does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from bot.adapters.venue.calls import MalformedResponse

TERMINAL_STATUSES = frozenset({"FILLED", "EXPIRED", "EXPIRED_IN_MATCH", "CANCELED", "REJECTED"})
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED", "PENDING_NEW", "PENDING_CANCEL"})
_UNIFIED_TO_BINANCE = {
    "closed": "FILLED",
    "expired": "EXPIRED",
    "canceled": "CANCELED",
    "rejected": "REJECTED",
    "open": "NEW",
}


def dec(value: Any, what: str = "value") -> Decimal:
    """Decimal from an exchange string (or a float's shortest repr); never guesses."""
    if value is None or isinstance(value, bool):
        raise MalformedResponse(f"{what} is missing")
    try:
        number = Decimal(value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MalformedResponse(f"{what} is not a number: {value!r}") from exc
    if not number.is_finite():
        raise MalformedResponse(f"{what} is not finite: {value!r}")
    return number


def plain(value: Decimal) -> str:
    """Fixed-point text for the exchange: never ``1E+1``, never trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def round_down(qty: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_up(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


@dataclass(frozen=True, slots=True)
class TradeFill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the exchange says about one order, in exact numbers."""

    order_id: str
    client_order_id: str
    status: str  # Binance's own status word
    executed_qty: Decimal
    quote_qty: Decimal

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class BookedOrder:
    client_order_id: str
    order_id: str
    status: str
    filled: Decimal
    gross_quote: Decimal
    fee_quote: Decimal


def order_state(order: Any, *, expected_client_order_id: str | None = None) -> OrderState:
    """Parse a ccxt order (create or fetch). Raises MalformedResponse when the answer lacks
    an id or a status (ccxt turns a 200 ``{}`` into an order with ``id=None``)."""
    if not isinstance(order, dict):
        raise MalformedResponse("order answer is not an object")
    info = order.get("info") if isinstance(order.get("info"), dict) else {}
    order_id = info.get("orderId", order.get("id"))
    if order_id in (None, ""):
        raise MalformedResponse("order answer has no order id")
    status = info.get("status")
    if status is None:
        status = _UNIFIED_TO_BINANCE.get(order.get("status") or "")
    if not status:
        raise MalformedResponse("order answer has no status")
    cid = info.get("clientOrderId", order.get("clientOrderId"))
    if expected_client_order_id is not None and cid not in (None, expected_client_order_id):
        raise MalformedResponse(f"order answer is for client id {cid!r}, not {expected_client_order_id!r}")
    side = info.get("side")
    if side is not None and str(side).upper() != "SELL":
        raise MalformedResponse(f"order {order_id} is a {side}, not a SELL")
    executed = dec(info.get("executedQty", order.get("filled")), "executedQty")
    quote = info.get("cummulativeQuoteQty", order.get("cost"))
    quote_qty = dec(quote, "cummulativeQuoteQty") if quote is not None else Decimal(0)
    if executed < 0 or quote_qty < 0:
        raise MalformedResponse("negative executed quantity")
    return OrderState(
        str(order_id), str(cid or expected_client_order_id or ""), str(status).upper(), executed, quote_qty
    )


def fills_in_create_answer(order: dict) -> list[TradeFill] | None:
    """The ``fills`` of a FULL create answer, or None when the answer carries none."""
    info = order.get("info") if isinstance(order.get("info"), dict) else {}
    raw = info.get("fills")
    if not isinstance(raw, list):
        return None
    return [
        TradeFill(
            dec(f.get("price"), "fill price"),
            dec(f.get("qty"), "fill qty"),
            dec(f.get("commission", "0"), "commission"),
            str(f.get("commissionAsset") or ""),
        )
        for f in raw
    ]


def fills_in_trades(trades: Iterable[Any], order_id: str) -> list[TradeFill]:
    """The fills of ``order_id`` among ccxt ``fetch_my_trades`` results (raw strings)."""
    fills = []
    for trade in trades:
        info = trade.get("info") if isinstance(trade, dict) and isinstance(trade.get("info"), dict) else {}
        if str(info.get("orderId", trade.get("order") if isinstance(trade, dict) else None)) != order_id:
            continue
        fee = trade.get("fee") or {}
        fills.append(
            TradeFill(
                dec(info.get("price", trade.get("price")), "trade price"),
                dec(info.get("qty", trade.get("amount")), "trade qty"),
                dec(info.get("commission", fee.get("cost", "0")), "commission"),
                str(info.get("commissionAsset", fee.get("currency")) or ""),
            )
        )
    return fills


def book_order(
    state: OrderState,
    fills: list[TradeFill],
    *,
    base: str,
    quote: str,
    price_in_quote: Callable[[str], Decimal],
) -> BookedOrder:
    """Book one order exactly. ``fills`` must account for all of ``executed_qty``
    (MalformedResponse otherwise: the trades are not visible yet)."""
    if state.executed_qty == 0:
        return BookedOrder(state.client_order_id, state.order_id, state.status, Decimal(0), Decimal(0), Decimal(0))
    filled_by_trades = sum((f.qty for f in fills), Decimal(0))
    if filled_by_trades != state.executed_qty:
        raise MalformedResponse(
            f"order {state.order_id}: fills sum to {filled_by_trades}, order says {state.executed_qty}"
        )
    gross = state.quote_qty if state.quote_qty > 0 else sum((f.price * f.qty for f in fills), Decimal(0))
    fee = sum((fee_in_quote(f, base=base, quote=quote, price_in_quote=price_in_quote) for f in fills), Decimal(0))
    return BookedOrder(state.client_order_id, state.order_id, state.status, state.executed_qty, gross, fee)


def fee_in_quote(fill: TradeFill, *, base: str, quote: str, price_in_quote: Callable[[str], Decimal]) -> Decimal:
    if fill.commission == 0:
        return Decimal(0)
    asset = fill.commission_asset.upper()
    if asset == quote.upper():
        return fill.commission
    if asset == base.upper():
        return fill.commission * fill.price  # valued at the fill's own price
    return fill.commission * price_in_quote(asset)  # e.g. BNB: at the current market
