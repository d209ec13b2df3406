"""The exchange leg: ``bot.ports.Venue`` through the unmodified ccxt Binance client.

    venue = CcxtVenue.connect(api_key=..., api_secret=...)  # bot.compose.adapters.open_venue(settings.exchange)
    rules = venue.rules("ETH/USDT")
    result = venue.sell(key=step_key, symbol="ETH/USDT", qty=qty, floor_price=floor)
    t = venue.withdraw(key=step_key, coin="USDT", amount=amount, address=wallet, network="ERC20")

What the caller does on each exception (all from ``bot.errors``):

- ``RateLimited`` (429/418): wait ``retry_after`` seconds, then call again with the same key.
- ``Retryable``: a read failed (or a request was refused before execution); call again.
- ``OutcomeUnknown``: a write may have happened; call again with the same key later
  (``sell`` and ``withdraw`` reconcile by key first and never act twice), or follow with
  ``sell_status`` / ``withdrawal``.
- ``Rejected`` (reason: insufficient_funds, min_notional, lot_size, invalid_order, …): final
  for this intent; ``GuardRefused`` is the local variant (allowlist, below minimums).
- ``Halt``: credentials or permissions refused; ``NeedsReview``: the exchange holds something
  the key cannot explain (two withdrawals under one id, a different destination).
- ``ConfigError``: unknown market, bad allowlist entry, unsupported exchange id.
"""

from bot.adapters.venue.ccxt_venue import CcxtVenue
from bot.adapters.venue.client import build_binance_client
from bot.adapters.venue.ids import client_order_id, withdraw_order_id
from bot.adapters.venue.orders import SellLimits

__all__ = ["CcxtVenue", "SellLimits", "build_binance_client", "client_order_id", "withdraw_order_id"]
