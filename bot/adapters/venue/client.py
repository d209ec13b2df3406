"""Build the unmodified ``ccxt.binance`` client, optionally pointed at another base URL.

With ``api_url`` (the devnet emulator, or any Binance-compatible server) EVERY entry of
``urls['api']`` is rewritten to that host, keeping its path: a call nobody expected then
shows up as a 404 on that host instead of reaching the internet. No sandbox mode (it drops
the sapi routes and changes behaviour). ccxt's own retry loop stays off
(``maxRetriesOnFailure`` 0): it would re-send order POSTs blind. ``verbose`` stays off: it
logs signed requests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_RECV_WINDOW_MS = 10_000


def rebased_api_urls(api_urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Every URL in ccxt's ``urls['api']`` table moved to ``base_url``, paths kept."""
    base = base_url.rstrip("/")
    rebased: dict[str, Any] = {}
    for name, value in api_urls.items():
        if isinstance(value, dict):
            rebased[name] = rebased_api_urls(value, base_url)
        elif isinstance(value, str):
            path = urlsplit(value).path
            rebased[name] = base + path
        else:
            rebased[name] = value
    return rebased


def client_options(*, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS, fetch_currencies: bool = True) -> dict[str, Any]:
    return {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},  # no fapi/dapi exchangeInfo calls
        "fetchMargins": False,  # no margin/allPairs calls inside load_markets
        # capital/config/getall: withdraw precision, fees and networks per coin
        "fetchCurrencies": fetch_currencies,
        "adjustForTimeDifference": False,
        "recvWindow": recv_window_ms,
        "warnOnFetchOpenOrdersWithoutSymbol": False,
        "fetchOpenOrders": {"warnWithoutSymbol": False},
        "maxRetriesOnFailure": 0,  # never re-send anything inside ccxt
        "maxRetriesOnFailureDelay": 0,
    }


def build_binance_client(
    *,
    api_key: str | None,
    api_secret: str | None,
    api_url: str | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
    enable_rate_limit: bool = True,
    fetch_currencies: bool = True,
) -> ccxt.binance:
    """A ready ``ccxt.binance``; ``api_url`` None means the real Binance hosts.

    The spot error table is merged into the generic one so that error codes map the same
    on a local URL as on ``api.binance.com`` (ccxt otherwise picks the table by host).
    """
    spot_exact = ccxt.binance().exceptions["spot"]["exact"]
    config: dict[str, Any] = {
        "apiKey": api_key or "",
        "secret": api_secret or "",
        "timeout": timeout_ms,
        "enableRateLimit": enable_rate_limit,
        "verbose": False,
        "options": client_options(recv_window_ms=recv_window_ms, fetch_currencies=fetch_currencies),
        "exceptions": {"exact": spot_exact},
    }
    client = ccxt.binance(config)
    if api_url:
        client.urls["api"] = rebased_api_urls(client.urls["api"], api_url)
        # ccxt picks its per-market error table by host; nothing may still name binance.com
        client.urls["test"] = rebased_api_urls(client.urls.get("test", {}), api_url)
    client.verbose = False
    return client
