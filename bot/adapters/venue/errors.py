"""ccxt exceptions → ``bot.errors``, grouped by what the caller must do.

The split that matters is read versus write. A read that fails transiently is retried; a
write (order POST, withdraw) that fails with no definite answer (timeout, 5xx, a dropped
connection, an unparseable or empty body) may have happened, so it is UNKNOWN and must be
reconciled by its id before anything is re-sent.

Class order matters: ccxt's ``RateLimitExceeded`` and ``DDoSProtection`` are siblings under
``NetworkError``, and ``OrderNotFound`` / ``DuplicateOrderId`` sit under ``InvalidOrder``.
"""

from __future__ import annotations

import re

import ccxt

from bot.errors import DeleverError, Halt, OutcomeUnknown, RateLimited, Rejected, Retryable

DEFAULT_RATE_LIMIT_BACKOFF_S = 10.0  # Binance bans for 2 min and up after ignored 429s: be slow
_MAX_MESSAGE = 300
_SIGNATURE = re.compile(r"(signature|X-MBX-APIKEY|apiKey|secret)([=:\"' ]+)[^&\s\"',}]+", re.IGNORECASE)


def safe_message(exc: BaseException) -> str:
    """A short description of ``exc`` with request signatures and key material blanked out."""
    text = _SIGNATURE.sub(r"\1\2***", str(exc))
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "…"
    return f"{type(exc).__name__}: {text}"


def is_rate_limit(exc: BaseException) -> bool:
    return isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection))


def is_transient(exc: BaseException) -> bool:
    """True when a READ may simply be retried: network trouble, timeouts, 5xx, bad bodies."""
    return isinstance(exc, ccxt.OperationFailed) and not is_rate_limit(exc)


def is_refusal(exc: BaseException) -> bool:
    """True when the exchange (or ccxt, locally) refused a WRITE for good: nothing happened."""
    if isinstance(exc, ccxt.DuplicateOrderId):
        return False  # an order with this id exists: reconcile, it may have filled
    return isinstance(
        exc,
        (
            ccxt.InsufficientFunds,
            ccxt.InvalidOrder,
            ccxt.BadRequest,
            ccxt.InvalidAddress,
            ccxt.OperationRejected,
            ccxt.NotSupported,
            ccxt.ArgumentsRequired,
        ),
    )


def is_auth_failure(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.AuthenticationError)


def retry_after_seconds(headers: object, attempt: int = 0) -> float:
    """Seconds to wait after a 429/418: the ``Retry-After`` header if ccxt kept it, else backoff."""
    value = None
    if isinstance(headers, dict) or hasattr(headers, "get"):
        value = headers.get("Retry-After") or headers.get("retry-after")  # type: ignore[union-attr]
    if value is not None:
        try:
            seconds = float(value)
            if seconds >= 0:
                return seconds
        except (TypeError, ValueError):
            pass
    return DEFAULT_RATE_LIMIT_BACKOFF_S * (2 ** min(attempt, 6))


def reject_reason(exc: BaseException) -> str:
    if isinstance(exc, ccxt.InsufficientFunds):
        return "insufficient_funds"
    if isinstance(exc, ccxt.InvalidAddress):
        return "invalid_address"
    text = str(exc)
    if "NOTIONAL" in text:
        return "min_notional"
    if "LOT_SIZE" in text:
        return "lot_size"
    if "PRICE_FILTER" in text:
        return "price_filter"
    if isinstance(exc, ccxt.BadSymbol):
        return "bad_symbol"
    if isinstance(exc, ccxt.InvalidOrder):
        return "invalid_order"
    if isinstance(exc, ccxt.MarketClosed):
        return "market_closed"
    return "bad_request"


def translate(exc: BaseException, *, write: bool, retry_after: float | None = None) -> DeleverError:
    """The ``bot.errors`` exception the caller must see for a ccxt failure.

    ``write`` is True for requests with side effects (order POST, withdraw apply): then any
    failure that is not a definite refusal is UNKNOWN. For reads it is Retryable.
    """
    if isinstance(exc, DeleverError):
        return exc
    message = safe_message(exc)
    if is_rate_limit(exc):
        # Binance answers 429/418 before executing anything: the request did not happen.
        return RateLimited(
            message, retry_after=retry_after if retry_after is not None else DEFAULT_RATE_LIMIT_BACKOFF_S
        )
    if isinstance(exc, ccxt.InvalidNonce):
        # Timestamp outside recvWindow: refused before execution; the local clock needs a look.
        return Retryable(message)
    if is_auth_failure(exc):
        return Halt(f"exchange refused the API credentials or permissions: {message}")
    if is_refusal(exc):
        return Rejected(message, reason=reject_reason(exc))
    if write:
        return OutcomeUnknown(message)
    if is_transient(exc):
        return Retryable(message)
    # An unmapped exchange error on a read: retrying as is will not help.
    return Rejected(message, reason="exchange_error")
