"""Pure domain: exact Aave v3 math, positions, order books and snapshots. No I/O here."""

from bot.domain.book import Level, OrderBook, SellFill, depth_above, floor_price, walk_bids
from bot.domain.position import (
    AccountData,
    Position,
    Reserve,
    Rounding,
    account_data,
    decimal_to_wad,
    from_units,
    health_factor_wad,
    to_units,
    wad_to_decimal,
)
from bot.domain.sizing import (
    BatchEffect,
    after_repay,
    after_withdraw,
    batch_effect,
    liquidation_price_base,
    max_withdraw,
    repay_for_target,
    shocked,
)
from bot.domain.snapshot import Snapshot

__all__ = [
    "AccountData",
    "BatchEffect",
    "Level",
    "OrderBook",
    "Position",
    "Reserve",
    "Rounding",
    "SellFill",
    "Snapshot",
    "account_data",
    "after_repay",
    "after_withdraw",
    "batch_effect",
    "decimal_to_wad",
    "depth_above",
    "floor_price",
    "from_units",
    "health_factor_wad",
    "liquidation_price_base",
    "max_withdraw",
    "repay_for_target",
    "shocked",
    "to_units",
    "wad_to_decimal",
    "walk_bids",
]
