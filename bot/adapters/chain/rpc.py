"""Web3 connection and read retries.

web3's HTTPProvider retries ``eth_sendRawTransaction`` on transport errors by default; we turn
its retries off and retry reads only, with tenacity and an explicit predicate. A broadcast is
never retried here: the tx sender reconciles it by hash and nonce.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from web3 import HTTPProvider, Web3
from web3.exceptions import ProviderConnectionError, RequestTimedOut, TooManyRequests

from bot.errors import Halt, Retryable

T = TypeVar("T")

_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    ConnectionError,
    TimeoutError,
)


def make_web3(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` with web3's own retries disabled (they would re-send broadcasts)."""
    provider = HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
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


def scrubbed(exc: BaseException) -> str:
    """A transport error's description without the request URL (hosted RPC URLs hold API keys)."""
    if isinstance(exc, requests.RequestException):
        response = getattr(exc, "response", None)
        status = f" HTTP {response.status_code}" if response is not None else ""
        return f"{type(exc).__name__}{status}"
    return type(exc).__name__
