"""The chain facts a read-only command needs, from one place the rest of the app can swap.

``load_chain_settings(config_path)`` uses ``bot.settings.load_settings`` when a config file is
given (``--config`` or ``DELEVER_CONFIG``) and that module exists; otherwise it reads the devnet
state file (``$DELEVER_STATE_DIR/devnet.json``, default ``.delever/devnet.json``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

from bot.adapters.chain.multicall import MULTICALL3_ADDRESS
from bot.devnet.state import read_state_data, state_path
from bot.domain import Rounding
from bot.errors import ConfigError

CONFIG_ENV = "DELEVER_CONFIG"


@dataclass(frozen=True, slots=True)
class ChainSettings:
    rpc_url: str = field(repr=False)  # hosted URLs carry API keys
    chain_id: int
    pool_addresses_provider: str
    wallet: str
    rounding: Rounding = Rounding.V3_0
    confirmations: int = 1
    multicall3: str = MULTICALL3_ADDRESS


def load_chain_settings(config_path: str | None = None) -> ChainSettings:
    path = config_path or os.environ.get(CONFIG_ENV)
    if path:
        try:
            from bot.settings import load_settings  # type: ignore[import-not-found]
        except ImportError:
            pass
        else:
            s = load_settings(path)
            if s.wallet.address is None:
                raise ConfigError("config: wallet.address is required")
            return ChainSettings(
                rpc_url=str(s.chain.rpc_url), chain_id=int(s.chain.chain_id),
                pool_addresses_provider=str(s.chain.pool_addresses_provider), wallet=str(s.wallet.address),
                rounding=Rounding(s.chain.rounding), confirmations=int(s.chain.confirmations),
            )
    return from_devnet_state(state_path())


def from_devnet_state(path: Path) -> ChainSettings:
    data = read_state_data(path)
    if data is None:
        raise ConfigError(f"no config: pass --config FILE, or start the devnet (no state file at {path})")
    try:
        return ChainSettings(
            rpc_url=str(data["rpc_url"]), chain_id=int(data["chain_id"]),
            pool_addresses_provider=Web3.to_checksum_address(data["pool_addresses_provider"]),
            wallet=Web3.to_checksum_address(data["wallet"]),
            multicall3=Web3.to_checksum_address(data.get("multicall3") or MULTICALL3_ADDRESS),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"devnet state file {path} lacks or garbles {exc}") from None
