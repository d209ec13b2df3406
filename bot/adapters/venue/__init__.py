"""The exchange leg: ``bot.ports.Venue`` through the unmodified ccxt Binance client."""

from bot.adapters.venue.ccxt_venue import CcxtVenue
from bot.adapters.venue.client import build_binance_client
from bot.adapters.venue.ids import client_order_id, withdraw_order_id
from bot.adapters.venue.orders import SellLimits

__all__ = ["CcxtVenue", "SellLimits", "build_binance_client", "client_order_id", "withdraw_order_id"]
