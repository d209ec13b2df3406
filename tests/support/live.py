"""A running devnet as the tests see it: the CLI environment, settings built from
`config/devnet.toml` the way a user's run builds them, and reads pinned to a block."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from bot.adapters.chain.rpc import make_web3
from bot.settings import Settings, load_settings
from tests.support.devnet import CONFIG, cli_devnet, cli_env, run_cli

_VIEW_ABI = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "scaledBalanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "transfer",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "v", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]
_RESERVE_INDEX_ABI = [
    {
        "name": "getReserveData",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "asset", "type": "address"}],
        "outputs": [
            {
                "name": "",
                "type": "tuple",
                "components": [
                    {"name": "configuration", "type": "uint256"},
                    {"name": "liquidityIndex", "type": "uint128"},
                    {"name": "currentLiquidityRate", "type": "uint128"},
                    {"name": "variableBorrowIndex", "type": "uint128"},
                    {"name": "currentVariableBorrowRate", "type": "uint128"},
                    {"name": "currentStableBorrowRate", "type": "uint128"},
                    {"name": "lastUpdateTimestamp", "type": "uint40"},
                    {"name": "id", "type": "uint16"},
                    {"name": "aTokenAddress", "type": "address"},
                    {"name": "stableDebtTokenAddress", "type": "address"},
                    {"name": "variableDebtTokenAddress", "type": "address"},
                    {"name": "interestRateStrategyAddress", "type": "address"},
                    {"name": "accruedToTreasury", "type": "uint128"},
                    {"name": "unbacked", "type": "uint128"},
                    {"name": "isolationModeTotalDebt", "type": "uint128"},
                ],
            }
        ],
    },
]


@dataclass(frozen=True)
class LiveDevnet:
    state_dir: Path
    facts: dict[str, Any]
    w3: Web3

    def settings(self, **env_overrides: str) -> Settings:
        return load_settings(CONFIG, env={**cli_env(self.state_dir), **env_overrides})

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """``delever ARGS`` in a subprocess, as a user runs it."""
        return run_cli(self.state_dir, *args, extra_env=env)

    def cli_in_process(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """``delever ARGS`` in this process (typer's runner): the same code, without the start-up cost."""
        from typer.testing import CliRunner

        from bot.cli import app

        wanted = {k: v for k, v in cli_env(self.state_dir).items() if k.startswith("DELEVER_")}
        cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DELEVER_")}
        return CliRunner().invoke(app, list(args), env={**cleared, **wanted, **(env or {})})

    # -- reads pinned to a block ---------------------------------------------------------
    def token_balance(self, token: str, holder: str, block: int) -> int:
        return int(self._contract(token, _VIEW_ABI).functions.balanceOf(holder).call(block_identifier=block))

    def scaled_balance(self, token: str, holder: str, block: int) -> int:
        return int(self._contract(token, _VIEW_ABI).functions.scaledBalanceOf(holder).call(block_identifier=block))

    def eth_balance(self, holder: str, block: int) -> int:
        return int(self.w3.eth.get_balance(holder, block_identifier=block))

    def reserve_indexes(self, asset: str, block: int) -> tuple[int, int, int]:
        """(liquidityIndex, variableBorrowIndex, lastUpdateTimestamp) stored at ``block``."""
        pool = self._contract(self.facts["pool"], _RESERVE_INDEX_ABI)
        data = pool.functions.getReserveData(asset).call(block_identifier=block)
        return int(data[1]), int(data[3]), int(data[6])

    def block_timestamp(self, block: int) -> int:
        return int(self.w3.eth.get_block(block)["timestamp"])

    def _contract(self, address: str, abi: list[dict[str, Any]]) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


@contextmanager
def live_devnet(state_dir: Path) -> Iterator[LiveDevnet]:
    with cli_devnet(state_dir) as facts:
        yield LiveDevnet(state_dir, facts, make_web3(facts["rpc_url"]))
