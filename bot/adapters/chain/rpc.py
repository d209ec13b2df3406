"""Web3 connection and read retries.

web3's HTTPProvider retries ``eth_sendRawTransaction`` on transport errors by default; we turn
its retries off and retry reads only, with tenacity and an explicit predicate. A broadcast is
never retried here: the tx sender reconciles it by hash and nonce.

An HTTP 200 whose body is not a JSON-RPC answer (a proxy's HTML error page, truncated JSON, an
empty body) is a transport failure like a 5xx: the request may or may not have reached the
node, and asking again is the only way to learn more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from web3 import HTTPProvider, Web3
from web3.exceptions import BadResponseFormat, ProviderConnectionError, RequestTimedOut, TooManyRequests
from web3.types import RPCResponse

from bot.errors import Halt, Retryable

T = TypeVar("T")
log = logging.getLogger(__name__)


class GarbledRpcAnswer(Exception):
    """The RPC answered, but not with JSON-RPC (HTML, truncated JSON, an empty body)."""


_TRANSPORT_ERRORS = (
    GarbledRpcAnswer,
    BadResponseFormat,  # JSON, but neither a result nor an error
    requests.ConnectionError,
    requests.Timeout,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    ConnectionError,
    TimeoutError,
)


class _JsonRpcHTTPProvider(HTTPProvider):
    """web3's HTTP provider, except that a body that is not JSON-RPC raises ``GarbledRpcAnswer``
    (web3 raises ``JSONDecodeError``, which reads like a bug rather than a flaky transport)."""

    def decode_rpc_response(self, raw_response: bytes) -> RPCResponse:  # type: ignore[override]
        try:
            decoded = json.loads(raw_response)
        except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
            raise GarbledRpcAnswer(f"the RPC answered {len(raw_response)} bytes that are not JSON") from None
        if not isinstance(decoded, (dict, list)):
            raise GarbledRpcAnswer(f"the RPC answered a JSON {type(decoded).__name__}, not a JSON-RPC object")
        return decoded  # type: ignore[return-value]


def make_web3(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` with web3's own retries disabled (they would re-send broadcasts)."""
    provider = _JsonRpcHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    return Web3(provider)


def is_transport_error(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSPORT_ERRORS):
        return True
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return False


def is_retryable(exc: BaseException) -> bool:
    """Retry a READ after these: the transport failed or the node asked us to back off.

    Never a revert, a decoding error or a bad argument: those fail the same way again.
    """
    return is_transport_error(exc) or isinstance(exc, Retryable)


def retrying_read(fn: Callable[[], T], *, what: str, attempts: int = 4, max_wait: float = 1.0) -> T:
    """Run a read with retries on transport errors; after the last one raise ``Retryable``."""
    try:
        for attempt in Retrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.05, max=max_wait),
            before_sleep=lambda state: _log_retry(what, state),
            reraise=True,
        ):
            with attempt:
                return fn()
    except Exception as exc:
        if is_transport_error(exc):
            raise Retryable(f"RPC read failed ({what}): {type(exc).__name__}") from None
        if isinstance(exc, requests.RequestException):  # e.g. 401/403: its text carries the URL (API key)
            raise Halt(f"RPC refused the request ({what}): {scrubbed(exc)}") from None
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _log_retry(what: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    reason = scrubbed(exc) if exc is not None else "no answer"
    # Debug only: one-shot commands print one line; a read that still fails raises ``Retryable``.
    log.debug("RPC read (%s) failed: %s; retrying (attempt %d)", what, reason, state.attempt_number)


def scrubbed(exc: BaseException) -> str:
    """A transport error's description without the request URL (hosted RPC URLs hold API keys)."""
    if isinstance(exc, requests.RequestException):
        response = getattr(exc, "response", None)
        status = f" HTTP {response.status_code}" if response is not None else ""
        return f"{type(exc).__name__}{status}"
    return type(exc).__name__
