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
from decimal import Decimal
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


# The adapter's custom errors, for one readable line when a simulation reverts.
_ERRORS = {
    "NotOwner()": (),
    "NotPool()": (),
    "NotInitiator()": (),
    "UnexpectedLoan()": (),
    "HealthFactorTooLow(uint256,uint256)": ("uint256", "uint256"),
    "TokenCallFailed(address)": ("address",),
    "SwapFailed(bytes)": ("bytes",),
}
_SELECTORS = {Fn(signature, ()).selector: (signature, types) for signature, types in _ERRORS.items()}


def describe_revert(data: bytes) -> str:
    """The adapter's revert data as one line (its own errors by name, the swap's reason inside)."""
    from eth_abi import decode as abi_decode

    from bot.adapters.chain.aave_errors import decode_revert_data

    known = _SELECTORS.get(bytes(data[:4]))
    if known is None:
        return str(decode_revert_data(data))
    signature, types = known
    name = signature.split("(")[0]
    try:
        values = abi_decode(list(types), bytes(data[4:])) if types else ()
    except Exception:  # noqa: BLE001 - malformed payload: the name is still the news
        return name
    if name == "SwapFailed":
        inner = str(decode_revert_data(values[0]))
        cap = " (the pool's price is past the slippage cap)" if inner in ("STF", "Too much requested") else ""
        return f"SwapFailed: {inner}{cap}"
    if name == "HealthFactorTooLow":
        end, minimum = (Decimal(v) / 10**18 for v in values[:2])
        return f"HealthFactorTooLow: HF would end at {end:.4f}, below {minimum:.4f}"
    return name + ("" if not values else f" {values[0]}")
