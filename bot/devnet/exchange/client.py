"""The ccxt configuration that points the unmodified ``ccxt.binance`` at the emulator."""

from __future__ import annotations

from typing import Any

# Every key of binance's urls['api'] in ccxt 4.5: pointing them all here turns any stray call
# into a logged 404 instead of a request to the internet.
_SAPI_KEYS = ("sapi", "sapiV2", "sapiV3", "sapiV4")


def ccxt_config(url: str, api_key: str, api_secret: str, *, timeout_ms: int = 10_000, **extra: Any) -> dict[str, Any]:
    """Constructor config for ``ccxt.binance`` / ``ccxt.async_support.binance``."""
    import ccxt

    root = url.rstrip("/")
    api = {key: f"{root}/_stray/{key}" for key in ccxt.binance().urls["api"]}
    api.update({"public": f"{root}/api/v3", "private": f"{root}/api/v3", "v1": f"{root}/api/v1"})
    for key in _SAPI_KEYS:
        api[key] = f"{root}/sapi/{key.removeprefix('sapi').lower() or 'v1'}"
    config: dict[str, Any] = {
        "apiKey": api_key,
        "secret": api_secret,
        "enableRateLimit": False,
        "timeout": timeout_ms,
        "urls": {"api": api},
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchMargins": False,
            "fetchCurrencies": True,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            "maxRetriesOnFailure": 0,
        },
    }
    config.update(extra)
    return config
