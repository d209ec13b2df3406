"""A local exchange speaking the Binance spot REST subset, so the unmodified ``ccxt.binance``
(sync and async) trades, deposits and withdraws against it on loopback.

    from bot.devnet.exchange import EmulatorConfig, start_emulator, ccxt_config
    with start_emulator(EmulatorConfig(balances={"ETH": Decimal(10)})) as emu:
        client = ccxt.binance(ccxt_config(emu.url, emu.api_key, emu.api_secret))
"""

from bot.devnet.exchange.client import ccxt_config
from bot.devnet.exchange.config import (
    CoinConfig,
    DepthProfile,
    EmulatorConfig,
    MarketConfig,
    SystemClock,
)
from bot.devnet.exchange.emulator import EmulatorHandle, start_emulator
from bot.devnet.exchange.faults import Fault
from bot.devnet.exchange.prices import ScriptedPrice

__all__ = [
    "CoinConfig",
    "DepthProfile",
    "EmulatorConfig",
    "EmulatorHandle",
    "Fault",
    "MarketConfig",
    "ScriptedPrice",
    "SystemClock",
    "ccxt_config",
    "start_emulator",
]
