"""Clients of the exchange emulator for tests: the unmodified ccxt binance client and the venue
adapter, pointed at an emulator on loopback, and what the emulator saw."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from bot.adapters.venue import CcxtVenue, client_order_id
from bot.devnet import scenario
from bot.devnet.exchange import EmulatorHandle, ccxt_config

VENUE_START_BALANCES = {"ETH": Decimal(100), "USDT": Decimal(50_000)}
ALLOWED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TIMEOUT_MS = 1_000
RECV_WINDOW_MS = 2_500


def make_client(handle: EmulatorHandle, **extra: Any) -> ccxt.binance:
    client = ccxt.binance(ccxt_config(handle.url, handle.api_key, handle.api_secret, **extra))
    client.load_markets()
    return client


def make_venue(handle: EmulatorHandle, **kwargs: Any) -> CcxtVenue:
    options: dict[str, Any] = {
        "api_key": handle.api_key,
        "api_secret": handle.api_secret,
        "api_url": handle.url,
        "enable_rate_limit": False,
        "timeout_ms": TIMEOUT_MS,
        "recv_window_ms": RECV_WINDOW_MS,
        "withdrawal_allowlist": [ALLOWED],
        "read_backoff_s": 0.05,
        # no delay faults unless a test says so: a short window keeps the suite fast
        "in_flight_window_s": 0.3,
    }
    options.update(kwargs)
    return CcxtVenue.connect(**options)


def order_posts(handle: EmulatorHandle, cid: str | None = None) -> list[dict[str, str]]:
    """The order POSTs the emulator received (optionally only those for client id ``cid``)."""
    records = handle.requests.records("/api/v3/order", "POST")
    return [r.params for r in records if cid is None or r.params.get("newClientOrderId") == cid]


def orders_for_key(handle: EmulatorHandle, key: str) -> list[Any]:
    """The orders the emulator holds whose client id derives from ``key``."""
    ids = {client_order_id(key, n) for n in range(50)}
    with handle.lock:
        return [o for o in handle.account().orders.values() if o.client_order_id in ids]


# anvil account 1 pays the emulator's on-chain withdrawals in the bare-anvil tests
HOT_WALLET_KEY = scenario.account_key(1)[1]
