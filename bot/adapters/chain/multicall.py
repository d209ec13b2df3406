"""Multicall3 ``aggregate3``: many view calls in one ``eth_call``, so they share one block.

Every sub-call is ``allowFailure = true`` so the batch itself never reverts; a failed sub-call,
or return data of the wrong shape, is then reported as a ``ChainDataError`` naming the call,
never replaced by a guessed value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.adapters.chain.abis import AGGREGATE3, AbiDecodeError, Fn
from bot.adapters.chain.rpc import retrying_read
from bot.errors import Retryable

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"


class ChainDataError(Retryable):
    """The RPC answered with something we cannot trust (a failed sub-call, wrong lengths)."""


@dataclass(frozen=True, slots=True)
class Call:
    target: str
    fn: Fn
    args: tuple[Any, ...] = ()
    label: str = ""

    def describe(self) -> str:
        return self.label or f"{self.fn.signature} on {self.target}"


class Multicall:
    def __init__(self, w3: Web3, address: str = MULTICALL3_ADDRESS, *, gas: int | None = None) -> None:
        self._w3 = w3
        self.address = Web3.to_checksum_address(address)
        self._gas = gas

    def raw(self, calls: Sequence[Call], *, block: int | str = "latest") -> list[tuple[bool, bytes]]:
        """One ``eth_call`` of ``aggregate3``; returns (success, returnData) per call."""
        payload = encode_aggregate3([(c.target, True, c.fn.encode(*c.args)) for c in calls])
        params: dict[str, Any] = {"to": self.address, "data": "0x" + payload.hex()}
        if self._gas:
            params["gas"] = self._gas
        try:
            raw = retrying_read(lambda: self._w3.eth.call(params, block), what="multicall")  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise ChainDataError(f"aggregate3 reverted: {exc}") from None
        try:
            results = decode_aggregate3_result(bytes(raw))
        except AbiDecodeError as exc:
            raise ChainDataError(f"aggregate3 returned garbage: {exc}") from None
        if len(results) != len(calls):
            raise ChainDataError(f"aggregate3 returned {len(results)} results for {len(calls)} calls")
        return results

    def call(self, calls: Sequence[Call], *, block: int | str = "latest") -> list[tuple[Any, ...]]:
        """Decoded outputs per call; any failed or malformed sub-call raises ``ChainDataError``."""
        out = []
        for call, (ok, data) in zip(calls, self.raw(calls, block=block), strict=True):
            if not ok:
                raise ChainDataError(f"{call.describe()} failed inside aggregate3")
            try:
                out.append(call.fn.decode(data))
            except AbiDecodeError as exc:
                raise ChainDataError(f"{call.describe()}: {exc}") from None
        return out


# -- a direct codec for aggregate3 (eth_abi takes ~0.2 s for 1,000 calls; this is ~10x faster) ----
def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def encode_aggregate3(calls: Sequence[tuple[str, bool, bytes]]) -> bytes:
    """``aggregate3((address,bool,bytes)[])`` calldata, byte-identical to eth_abi's encoding."""
    heads, tails, offset = [], [], 32 * len(calls)
    for target, allow_failure, data in calls:
        address = bytes.fromhex(target[2:] if target.startswith("0x") else target)
        if len(address) != 20:
            raise ValueError(f"not an address: {target!r}")
        padded = data + b"\x00" * (-len(data) % 32)
        tail = b"\x00" * 12 + address + _word(int(allow_failure)) + _word(0x60) + _word(len(data)) + padded
        heads.append(_word(offset))
        tails.append(tail)
        offset += len(tail)
    return AGGREGATE3.selector + _word(0x20) + _word(len(calls)) + b"".join(heads) + b"".join(tails)


def decode_aggregate3_result(raw: bytes) -> list[tuple[bool, bytes]]:
    """``(bool,bytes)[]`` return data, with every offset and length bounds-checked."""

    def word(at: int) -> int:
        if at < 0 or at + 32 > len(raw):
            raise AbiDecodeError(f"read past the end of {len(raw)} bytes at {at}")
        return int.from_bytes(raw[at : at + 32], "big")

    if word(0) != 0x20:
        raise AbiDecodeError("unexpected array offset")
    count = word(0x20)
    base = 0x40
    if count > (len(raw) - base) // 32:
        raise AbiDecodeError(f"{count} results cannot fit in {len(raw)} bytes")
    out = []
    for i in range(count):
        start = base + word(base + 32 * i)
        success = word(start)
        if success > 1:
            raise AbiDecodeError(f"result {i}: success flag {success} is not a bool")
        data_at = start + word(start + 32)
        length = word(data_at)
        if data_at + 32 + length > len(raw):
            raise AbiDecodeError(f"result {i}: {length} bytes run past the end")
        out.append((bool(success), raw[data_at + 32 : data_at + 32 + length]))
    return out
