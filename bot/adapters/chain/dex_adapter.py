"""The project's deleverage adapter contract (``contracts/DeleverageAdapter.sol``) as the bot uses it.

The build is committed (``deleverage_adapter.json``, made by ``python -m bot.devnet.dex.build``
with the pinned solc-js; a test recompiles and compares), so nothing compiles at run time. One
call, ``deleverage``: flash-borrow the debt asset, repay the owner's debt, pull and withdraw the
owner's collateral, buy back the loan plus premium on a Uniswap v3 pool spending at most
``max_collateral_in`` (the slippage cap), supply the unsold collateral back, and revert unless
the owner's HF ends at or above ``min_health_factor_wad``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.adapters.chain.abis import Fn

ARTIFACT_PATH = Path(__file__).with_name("deleverage_adapter.json")

DELEVERAGE = Fn(
    "deleverage(address,address,uint256,uint256,uint24,uint256)", ("uint256", "uint256", "uint256")
)  # repaid, collateral sold, HF after (wad)


@lru_cache(maxsize=1)
def artifact() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ARTIFACT_PATH.read_text())
    return data


def abi() -> list[dict[str, Any]]:
    return list(artifact()["abi"])


def creation_code() -> str:
    """Constructor code (``0x…``); the constructor takes (Aave Pool, Uniswap v3 SwapRouter)."""
    return str(artifact()["bytecode"])


@dataclass(frozen=True, slots=True)
class DeleverageOrder:
    """One atomic deleverage, in base units."""

    collateral: str  # asset address (e.g. WETH)
    debt: str  # asset address (e.g. USDT)
    repay_units: int  # debt to repay (the flash loan)
    max_collateral_in_units: int  # the slippage cap: at most this much collateral is sold
    pool_fee: int  # Uniswap v3 fee tier: 500, 3000, …
    min_health_factor_wad: int  # the call reverts unless HF ends at or above this

    def __post_init__(self) -> None:
        if self.repay_units <= 0 or self.max_collateral_in_units <= 0:
            raise ValueError("repay and the collateral cap must be positive")
        if not 0 < self.pool_fee < 2**24:
            raise ValueError(f"not a Uniswap v3 fee tier: {self.pool_fee}")

    def calldata(self) -> bytes:
        return DELEVERAGE.encode(
            self.collateral,
            self.debt,
            self.repay_units,
            self.max_collateral_in_units,
            self.pool_fee,
            self.min_health_factor_wad,
        )


@dataclass(frozen=True, slots=True)
class DeleverageResult:
    repaid_units: int
    collateral_sold_units: int
    health_factor_wad: int


def decode_result(data: bytes) -> DeleverageResult:
    repaid, sold, hf = DELEVERAGE.decode(data)
    return DeleverageResult(int(repaid), int(sold), int(hf))
