"""The few contract functions the chain adapter calls, as typed signatures.

Encoding goes straight through eth_abi (no web3 contract objects): cheap enough to build
thousands of Multicall3 sub-calls, and every decode checks the return data's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak


class AbiDecodeError(ValueError):
    """Return data that does not fit the expected types (wrong length, garbage)."""


@dataclass(frozen=True)
class Fn:
    """``Fn("balanceOf(address)", ("uint256",))``."""

    signature: str
    outputs: tuple[str, ...]

    @cached_property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        inner = self.signature[self.signature.index("(") + 1 : self.signature.rindex(")")]
        return tuple(_split_types(inner)) if inner else ()

    def encode(self, *args: Any) -> bytes:
        if self.inputs == ("address",):  # the hot path of wide reads: selector + padded address
            return self.selector + b"\x00" * 12 + _address_bytes(args[0])
        return self.selector + (abi_encode(list(self.inputs), list(args)) if self.inputs else b"")

    @cached_property
    def _all_uint256(self) -> bool:
        return bool(self.outputs) and all(t == "uint256" for t in self.outputs)

    def decode(self, data: bytes) -> tuple[Any, ...]:
        if not data:
            raise AbiDecodeError(f"{self.signature}: empty return data")
        if self._all_uint256:  # static words: the length must be exact
            if len(data) != 32 * len(self.outputs):
                raise AbiDecodeError(
                    f"{self.signature}: {len(data)} bytes of return data, expected {32 * len(self.outputs)}"
                )
            return tuple(int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32))
        try:
            return tuple(abi_decode(list(self.outputs), bytes(data), strict=True))
        except Exception as exc:  # noqa: BLE001 - eth_abi raises several types
            raise AbiDecodeError(f"{self.signature}: undecodable return data ({len(data)} bytes): {exc}") from None

    def decode_one(self, data: bytes) -> Any:
        return self.decode(data)[0]


def _address_bytes(value: Any) -> bytes:
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("0x") else bytes(value)
    if len(raw) != 20:
        raise ValueError(f"not an address: {value!r}")
    return raw


def _split_types(inner: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    out.append(current)
    return out


U = "uint256"

# PoolAddressesProvider
GET_POOL = Fn("getPool()", ("address",))
GET_PRICE_ORACLE = Fn("getPriceOracle()", ("address",))
GET_POOL_DATA_PROVIDER = Fn("getPoolDataProvider()", ("address",))

# Pool (v3.0)
GET_RESERVES_LIST = Fn("getReservesList()", ("address[]",))
GET_USER_ACCOUNT_DATA = Fn("getUserAccountData(address)", (U, U, U, U, U, U))
GET_USER_CONFIGURATION = Fn("getUserConfiguration(address)", ("(uint256)",))
GET_USER_EMODE = Fn("getUserEMode(address)", (U,))
# ReserveData: (configuration, liquidityIndex, currentLiquidityRate, variableBorrowIndex,
#   currentVariableBorrowRate, currentStableBorrowRate, lastUpdateTimestamp, id, aToken,
#   stableDebtToken, variableDebtToken, interestRateStrategy, accruedToTreasury, unbacked,
#   isolationModeTotalDebt)
GET_RESERVE_DATA = Fn(
    "getReserveData(address)",
    (
        "((uint256),uint128,uint128,uint128,uint128,uint128,uint40,uint16,address,address,address,address,"
        "uint128,uint128,uint128)",
    ),
)
POOL_WITHDRAW = Fn("withdraw(address,uint256,address)", (U,))
POOL_REPAY = Fn("repay(address,uint256,uint256,address)", (U,))
POOL_SUPPLY = Fn("supply(address,uint256,address,uint16)", ())

# AaveProtocolDataProvider
GET_RESERVE_CONFIGURATION_DATA = Fn(
    "getReserveConfigurationData(address)", (U, U, U, U, U, "bool", "bool", "bool", "bool", "bool")
)

# AaveOracle
GET_ASSETS_PRICES = Fn("getAssetsPrices(address[])", ("uint256[]",))

# ERC-20 / WETH9
BALANCE_OF = Fn("balanceOf(address)", (U,))
ALLOWANCE = Fn("allowance(address,address)", (U,))
APPROVE = Fn("approve(address,uint256)", ("bool",))
TRANSFER = Fn("transfer(address,uint256)", ("bool",))
DECIMALS = Fn("decimals()", ("uint8",))
SYMBOL = Fn("symbol()", ("string",))
WETH_WITHDRAW = Fn("withdraw(uint256)", ())

# Multicall3
AGGREGATE3 = Fn("aggregate3((address,bool,bytes)[])", ("(bool,bytes)[]",))
GET_BLOCK_NUMBER = Fn("getBlockNumber()", (U,))
GET_CURRENT_BLOCK_TIMESTAMP = Fn("getCurrentBlockTimestamp()", (U,))
GET_CHAIN_ID = Fn("getChainId()", (U,))
GET_ETH_BALANCE = Fn("getEthBalance(address)", (U,))
